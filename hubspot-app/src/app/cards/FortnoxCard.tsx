// hubnox's app card on deal, company and contact records: the Fortnox side of the record, as
// GET /hubspot/card describes it, with the card's actions.

import { useCallback, useEffect, useState } from 'react';
import {
  Alert,
  Button,
  DescriptionList,
  DescriptionListItem,
  Divider,
  EmptyState,
  ErrorState,
  Flex,
  Heading,
  Link,
  LoadingSpinner,
  StatusTag,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableHeader,
  TableRow,
  Text,
  hubspot,
} from '@hubspot/ui-extensions';
import type { CrmContext } from '@hubspot/ui-extensions';

import {
  HubnoxProblem,
  fetchCard,
  runAction,
} from './hubnox.ts';
import type {
  ActionAnswer,
  Amount,
  CardAction,
  CardData,
  CardRecord,
  Customer,
  CustomerInvoice,
  FortnoxDocument,
  LastRun,
} from './hubnox.ts';

type TagVariant = 'danger' | 'warning' | 'info' | 'success' | 'default';

const STATUS_VARIANTS: Record<string, TagVariant> = {
  draft: 'default',
  booked: 'info',
  sent: 'info',
  invoiced: 'success',
  paid: 'success',
  unpaid: 'warning',
  partly_paid: 'warning',
  overdue: 'danger',
  credited: 'default',
  cancelled: 'default',
  missing: 'danger',
  queued: 'info',
  running: 'info',
  succeeded: 'success',
  failed: 'danger',
};

const STATE_TITLES: Record<string, string> = {
  not_installed: 'hubnox is not installed',
  hubspot_broken: 'hubnox lost its access to HubSpot',
  fortnox_not_connected: 'Fortnox is not connected',
  fortnox_broken: 'Reconnect Fortnox',
  not_found: 'Record not found',
  no_customer: 'No Fortnox customer yet',
};

hubspot.extend<'crm.record.sidebar'>(({ context }) => (
  <FortnoxCard context={context} />
));

function StatusLabel({ status }: { status: string | null | undefined }) {
  if (!status) {
    return <Text>unknown</Text>;
  }
  return <StatusTag variant={STATUS_VARIANTS[status] ?? 'default'}>{status.replace('_', ' ')}</StatusTag>;
}

function amounts(values: Amount[] | undefined): string {
  if (!values || values.length === 0) {
    return '0';
  }
  return values.map((value) => value.text).join(' + ');
}

function CustomerView({ customer }: { customer: Customer }) {
  return (
    <Flex direction="column" gap="sm">
      <DescriptionList direction="row">
        <DescriptionListItem label="Fortnox customer">
          <Link href={{ url: customer.url, external: true }}>
            {customer.number} {customer.name ?? ''}
          </Link>
        </DescriptionListItem>
        {customer.via ? (
          <DescriptionListItem label="Customer of">
            <Text>the contact's company {customer.via.name ?? customer.via.objectId}</Text>
          </DescriptionListItem>
        ) : null}
        <DescriptionListItem label="Outstanding">
          <Text>{amounts(customer.outstanding)}</Text>
        </DescriptionListItem>
        <DescriptionListItem label="Overdue">
          <Text>{amounts(customer.overdue)}</Text>
        </DescriptionListItem>
        <DescriptionListItem label="Unpaid invoices">
          <Text>{String(customer.unpaidCount ?? '–')}</Text>
        </DescriptionListItem>
        <DescriptionListItem label="Overdue invoices">
          <Text>{String(customer.overdueCount ?? '–')}</Text>
        </DescriptionListItem>
      </DescriptionList>
      {customer.invoices && customer.invoices.length > 0 ? (
        <InvoiceTable invoices={customer.invoices} />
      ) : null}
    </Flex>
  );
}

function InvoiceTable({ invoices }: { invoices: CustomerInvoice[] }) {
  return (
    <Table bordered density="condensed">
      <TableHead>
        <TableRow>
          <TableHeader>Invoice</TableHeader>
          <TableHeader>Due</TableHeader>
          <TableHeader>Balance</TableHeader>
          <TableHeader>Status</TableHeader>
        </TableRow>
      </TableHead>
      <TableBody>
        {invoices.map((invoice) => (
          <TableRow key={invoice.number ?? invoice.invoiceDate ?? ''}>
            <TableCell>{invoice.number ?? ''}</TableCell>
            <TableCell>{invoice.dueDate ?? ''}</TableCell>
            <TableCell>{invoice.balanceText ?? ''}</TableCell>
            <TableCell>
              <StatusLabel status={invoice.status} />
            </TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}

function DocumentView({ document }: { document: FortnoxDocument }) {
  return (
    <DescriptionList direction="row">
      <DescriptionListItem label={`Fortnox ${document.type}`}>
        <Link href={{ url: document.url, external: true }}>{document.number}</Link>
      </DescriptionListItem>
      <DescriptionListItem label="Status">
        <StatusLabel status={document.status} />
      </DescriptionListItem>
      <DescriptionListItem label="Total">
        <Text>{document.totalText ?? '–'}</Text>
      </DescriptionListItem>
      {document.type === 'invoice' ? (
        <DescriptionListItem label="Balance">
          <Text>{document.balanceText ?? '–'}</Text>
        </DescriptionListItem>
      ) : (
        <DescriptionListItem label="Invoice">
          <Text>{document.invoiceNumber ?? '–'}</Text>
        </DescriptionListItem>
      )}
    </DescriptionList>
  );
}

function RunView({ run }: { run: LastRun }) {
  return (
    <Flex direction="column" gap="xs">
      <Flex direction="row" gap="xs" align="center">
        <Text format={{ fontWeight: 'demibold' }}>Last run</Text>
        <StatusLabel status={run.status} />
        <Text variant="microcopy">{run.finishedAt ?? run.createdAt ?? ''}</Text>
      </Flex>
      {run.errorMessage ? (
        <Alert title={run.errorCode ?? 'The run failed'} variant="error">
          {run.errorMessage}
        </Alert>
      ) : null}
      {run.replayUrl ? (
        <Link href={{ url: run.replayUrl, external: true }}>Replay this run</Link>
      ) : null}
    </Flex>
  );
}

function StateView({ card }: { card: CardData }) {
  const title = STATE_TITLES[card.state] ?? 'hubnox';
  const link = card.settingsUrl ?? card.installUrl;
  const linkLabel = card.settingsUrl ? 'Open hubnox settings' : 'Install hubnox';
  return (
    <EmptyState title={title} layout="vertical" imageName="integrations">
      <Text>{card.message ?? ''}</Text>
      {card.settingsNote ? <Text variant="microcopy">{card.settingsNote}</Text> : null}
      {link ? (
        <Button href={{ url: link, external: true }} variant="primary">
          {linkLabel}
        </Button>
      ) : null}
    </EmptyState>
  );
}

function Notes({ notes }: { notes: string[] }) {
  if (notes.length === 0) {
    return null;
  }
  return (
    <Alert title="Part of the card is missing" variant="warning">
      {notes.join(' ')}
    </Alert>
  );
}

function FortnoxWarnings({ warnings }: { warnings: string[] }) {
  if (warnings.length === 0) {
    return null;
  }
  return (
    <Alert title="Some Fortnox features will not work" variant="warning">
      {warnings.join(' ')}
    </Alert>
  );
}

function Actions({
  actions,
  busy,
  onAction,
}: {
  actions: CardAction[];
  busy: boolean;
  onAction: (action: CardAction) => void;
}) {
  if (actions.length === 0) {
    return null;
  }
  return (
    <Flex direction="row" gap="sm" wrap>
      {actions.map((action) => (
        <Button
          key={action.action}
          variant={action.action === 'create-document' ? 'primary' : 'secondary'}
          disabled={busy || action.disabled === true}
          onClick={() => onAction(action)}
        >
          {action.label}
        </Button>
      ))}
    </Flex>
  );
}

function FortnoxCard({ context }: { context: CrmContext }) {
  const record: CardRecord = {
    objectTypeId: context.crm.objectTypeId,
    objectId: context.crm.objectId,
  };
  const [card, setCard] = useState<CardData | null>(null);
  const [problem, setProblem] = useState<HubnoxProblem | null>(null);
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<ActionAnswer | null>(null);

  const load = useCallback(() => {
    setProblem(null);
    fetchCard(record)
      .then(setCard)
      .catch((error: unknown) => setProblem(asProblem(error)));
  }, [record.objectTypeId, record.objectId]);

  useEffect(load, [load]);

  const onAction = (action: CardAction) => {
    setBusy(true);
    setAnswer(null);
    runAction(record, action)
      .then((result) => {
        setAnswer(result);
        if (action.action !== 'open-settings') {
          load();
        }
      })
      .catch((error: unknown) => setProblem(asProblem(error)))
      .finally(() => setBusy(false));
  };

  if (problem) {
    return (
      <ErrorState title="hubnox could not show Fortnox here">
        <Text>{problem.message}</Text>
        {problem.hint ? <Text variant="microcopy">{problem.hint}</Text> : null}
        <Button onClick={load}>Try again</Button>
      </ErrorState>
    );
  }
  if (!card) {
    return <LoadingSpinner label="Asking Fortnox" layout="centered" />;
  }
  if (card.state !== 'ready' && card.state !== 'no_customer') {
    return <StateView card={card} />;
  }
  return (
    <Flex direction="column" gap="sm">
      {card.fortnoxCompany ? <Heading>{card.fortnoxCompany}</Heading> : null}
      <FortnoxWarnings warnings={card.fortnoxWarnings ?? []} />
      <Notes notes={card.notes} />
      {card.state === 'no_customer' ? <Text>{card.message ?? ''}</Text> : null}
      {card.customer ? <CustomerView customer={card.customer} /> : null}
      {card.objectType === 'deal' && !card.document ? (
        <Text>This deal has no Fortnox document yet.</Text>
      ) : null}
      {card.document ? <DocumentView document={card.document} /> : null}
      {card.lastRun ? (
        <>
          <Divider />
          <RunView run={card.lastRun} />
        </>
      ) : null}
      {answer ? (
        <Alert title={answer.ok ? 'Done' : 'Not done'} variant={answer.ok ? 'success' : 'warning'}>
          {answer.message}
          {answer.url ? (
            <Link href={{ url: answer.url, external: true }}> Open hubnox settings</Link>
          ) : null}
        </Alert>
      ) : null}
      <Actions actions={card.actions ?? []} busy={busy} onAction={onAction} />
    </Flex>
  );
}

function asProblem(error: unknown): HubnoxProblem {
  if (error instanceof HubnoxProblem) {
    return error;
  }
  const message = error instanceof Error ? error.message : String(error);
  return new HubnoxProblem({ message: `hubnox did not answer: ${message}` });
}

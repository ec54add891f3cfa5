// What the card asks hubnox's backend, and what it gets back (hubnox.services.card in the layer).
// Every call goes through hubspot.fetch, which signs it for the backend (X-HubSpot-Signature-v3)
// and appends portalId, userId, userEmail and appId to the query. The card adds the record.

import { hubspot } from '@hubspot/ui-extensions';

import { HUBNOX_BASE_URL } from './config.ts';

export const CARD_PATH = '/hubspot/card';
export const CARD_ACTIONS_PATH = '/hubspot/card/actions/';
// hubspot.fetch may wait longer, but HubSpot's older limit is 15 s and the backend answers within 8 s.
const TIMEOUT_MS = 15000;

export type CardState =
  | 'ready'
  | 'not_installed'
  | 'hubspot_broken'
  | 'fortnox_not_connected'
  | 'fortnox_broken'
  | 'not_found'
  | 'no_customer';

export type CardActionName = 'update-customer' | 'create-document' | 'open-settings';

export interface Amount {
  currency: string;
  amount: string;
  /** the amount as people read it, e.g. "1 234,50 kr" (hubnox formats every amount the same way) */
  text: string;
}

export interface CustomerInvoice {
  number: string | null;
  status: 'draft' | 'unpaid' | 'overdue' | 'paid' | 'cancelled';
  invoiceDate: string | null;
  dueDate: string | null;
  total: string | null;
  balance: string | null;
  currency: string | null;
  totalText: string | null;
  balanceText: string | null;
}

export interface Customer {
  number: string;
  name: string | null;
  url: string;
  /** set on a contact's card when the customer is its company's, the contact being none itself */
  via?: { objectType: 'company'; objectId: string; name: string | null };
  email?: string | null;
  outstanding?: Amount[];
  overdue?: Amount[];
  unpaidCount?: number;
  overdueCount?: number;
  /** the day of the customer's latest payment, when the totals come from HubSpot's properties */
  lastPaymentDate?: string | null;
  /** where the totals come from: the status sync's properties on the record, or Fortnox */
  source?: 'hubspot' | 'fortnox';
  invoices?: CustomerInvoice[];
}

export interface FortnoxDocument {
  type: 'invoice' | 'order';
  number: string;
  status: string | null;
  url: string;
  customerNumber?: string;
  customerName?: string | null;
  currency?: string | null;
  total?: string | null;
  balance?: string | null;
  totalText?: string | null;
  balanceText?: string | null;
  dueDate?: string | null;
  invoiceNumber?: string | null;
  /** 'hubspot': read from the deal's properties the status sync keeps; 'fortnox': read from Fortnox */
  source?: 'hubspot' | 'fortnox';
  /** when the status sync last copied the state (source 'hubspot') */
  syncedAt?: string | null;
  finalPayDate?: string | null;
  creditInvoiceNumber?: string | null;
}

export interface LastRun {
  id: string;
  kind: string;
  trigger: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  documentType: string | null;
  createdAt: string | null;
  finishedAt: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  replayUrl: string | null;
}

export interface CardAction {
  action: CardActionName;
  label: string;
  documentType?: 'invoice' | 'order';
  /** The Fortnox company's scopes or licences do not allow it; `disabledReason` says why. */
  disabled?: boolean;
  disabledReason?: string;
}

export interface CardData {
  state: CardState;
  objectType: 'deal' | 'company' | 'contact';
  objectId: string;
  message: string | null;
  partial: boolean;
  notes: string[];
  cached?: boolean;
  generatedAt?: string | null;
  fortnoxCompany?: string | null;
  /** What the Fortnox company's scopes and licences leave out, and what to do (as the settings page says). */
  fortnoxWarnings?: string[];
  installUrl?: string;
  settingsUrl?: string;
  /** Why there is no settings link: only the user who installed hubnox gets one. */
  settingsNote?: string;
  customer?: Customer | null;
  document?: FortnoxDocument | null;
  lastRun?: LastRun | null;
  actions?: CardAction[];
}

export interface ActionAnswer {
  ok: boolean;
  message: string;
  runId?: string;
  status?: string;
  url?: string;
}

export interface Problem {
  message: string;
  code?: string;
  hint?: string;
}

export interface CardRecord {
  objectTypeId: string;
  objectId: number | string;
}

function recordQuery(record: CardRecord): string {
  const query = new URLSearchParams({
    objectType: record.objectTypeId,
    objectId: String(record.objectId),
  });
  return query.toString();
}

async function readAnswer<T>(response: Response): Promise<T> {
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const problem = (body ?? {}) as Partial<Problem>;
    const message =
      problem.message ?? `hubnox answered ${response.status}; try again in a minute.`;
    throw new HubnoxProblem({ message, code: problem.code, hint: problem.hint });
  }
  return body as T;
}

export class HubnoxProblem extends Error {
  readonly code?: string;
  readonly hint?: string;

  constructor(problem: Problem) {
    super(problem.message);
    this.code = problem.code;
    this.hint = problem.hint;
  }
}

/** The card's data for one record (GET /hubspot/card). */
export async function fetchCard(record: CardRecord): Promise<CardData> {
  const response = await hubspot.fetch(
    `${HUBNOX_BASE_URL}${CARD_PATH}?${recordQuery(record)}`,
    { method: 'GET', timeout: TIMEOUT_MS }
  );
  return readAnswer<CardData>(response);
}

/** Run one of the card's actions (POST /hubspot/card/actions/{action}). */
export async function runAction(
  record: CardRecord,
  action: CardAction
): Promise<ActionAnswer> {
  const body: Record<string, unknown> = {};
  if (action.documentType) {
    body.documentType = action.documentType;
  }
  const response = await hubspot.fetch(
    `${HUBNOX_BASE_URL}${CARD_ACTIONS_PATH}${action.action}?${recordQuery(record)}`,
    { method: 'POST', timeout: TIMEOUT_MS, body }
  );
  return readAnswer<ActionAnswer>(response);
}

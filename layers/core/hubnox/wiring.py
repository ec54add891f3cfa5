"""Builds hubnox's real dependencies once per Lambda container, from `AppConfig`.

Each function builds one `Container` per Lambda container (`hubnox.entry.LambdaEntry`); everything
in it is built on first use and then reused across warm invocations (boto3 and httpx clients are
thread-safe and keep connections open). Tests build a `Container` with their own configuration and
pass it to a function's `build`, or skip it and pass fakes to the layer.
boto3 finds a local endpoint the standard way (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB`).

Each property imports what it builds (the module's imports are for type checking only): a function's
first request then imports the stores, services and clients its route uses, not every function's
(boto3, httpx, jinja2, Powertools idempotency and the pydantic models of the sync stay out of a route
that never touches them). See the README's cold start decision.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import httpx
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

    from hubnox.api_http import TokenSource
    from hubnox.config import AppConfig
    from hubnox.dead_letter_queue import DeadLetterQueue
    from hubnox.fortnox.client import FortnoxClient
    from hubnox.fortnox.oauth import FortnoxOAuth
    from hubnox.hubspot.client import HubSpotClient
    from hubnox.hubspot.models import Company, Contact, CrmObject
    from hubnox.hubspot.oauth import HubSpotOAuth
    from hubnox.jobs import DocumentType, JobQueue, Submit
    from hubnox.poll_queue import PollQueue
    from hubnox.records import Run
    from hubnox.services.bulk_replay import BulkReplay
    from hubnox.services.card.actions import CardActions
    from hubnox.services.card.service import CardService
    from hubnox.services.connection_health import ConnectionHealthService
    from hubnox.services.dead_letters import DeadLetters
    from hubnox.services.install import ConnectionService, PortalDeletion, UninstalledDataPurge, UninstallService
    from hubnox.services.replay import ReplayPages
    from hubnox.services.webhooks import WebhookService
    from hubnox.services.workflows import WorkflowActions
    from hubnox.signing import Signer
    from hubnox.store.article_cache import ArticleCacheStore
    from hubnox.store.connections import ConnectionStore
    from hubnox.store.cursors import CursorStore
    from hubnox.store.deal_links import DealLinkStore
    from hubnox.store.document_states import DocumentStateStore
    from hubnox.store.health import HealthStore
    from hubnox.store.leases import LeaseStore
    from hubnox.store.made_customers import MadeCustomerStore
    from hubnox.store.nonces import NonceStore
    from hubnox.store.portal_cache import PortalCacheStore
    from hubnox.store.portal_settings import SettingsStore
    from hubnox.store.portals import PortalDataStore
    from hubnox.store.runs import RunStore
    from hubnox.store.sessions import SessionStore
    from hubnox.store.shared_budget import DynamoRateBudget
    from hubnox.store.table import Table
    from hubnox.store.trigger_log import TriggerLogStore
    from hubnox.sync.admission import Admission
    from hubnox.sync.poll_fanout import PortalPoll
    from hubnox.sync.poller import Poller, StageRule
    from hubnox.sync.portal_settings import PortalSettings
    from hubnox.sync.ports import Fortnox, HubSpot, HubSpotStatusWrites
    from hubnox.sync.runner import JobRunner
    from hubnox.sync.status_sync import StatusSync
    from hubnox.sync.triggers import TriggerDecider, TriggerSource
    from hubnox.tokens import FortnoxTokenSource, HubSpotTokenSource


class Container:
    """The stores, clients and services of one container, each built on first use."""

    def __init__(
        self,
        config: AppConfig,
        *,
        clock: Callable[[], float] = time.time,
        hubspot_transport: httpx.BaseTransport | None = None,
        fortnox_transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self._hubspot_transport = hubspot_transport
        self._fortnox_transport = fortnox_transport
        self._aws_client_hooks: list[Callable[[Any], None]] = []
        self._aws_lock = threading.Lock()

    # -- AWS -----------------------------------------------------------------------------------

    _AWS_CLIENTS = ("dynamodb", "kms", "sqs")

    def _aws(self, service: str) -> Any:
        from hubnox.store.table import BOTO_CONFIG

        # One session for the container's clients: they share its loaded endpoint and model files,
        # so the second and third client cost a third of the first (about 55 ms for all three
        # rather than 150 to 200 ms, measured on a warm process). A session is not safe to build
        # clients from two threads at once, hence the lock.
        with self._aws_lock:
            client = self._aws_session.client(service, config=BOTO_CONFIG)
        for hook in self._aws_client_hooks:
            hook(client)
        return client

    @cached_property
    def _aws_session(self) -> Any:
        import boto3

        return boto3.session.Session()

    def watch_aws_clients(self, hook: Callable[[Any], None]) -> None:
        """Call `hook` with every boto3 client this container has built and every one it builds later
        (the local stack holds each function to its IAM role this way)."""
        self._aws_client_hooks.append(hook)
        for name in self._AWS_CLIENTS:
            if name in vars(self):
                hook(vars(self)[name])

    @cached_property
    def dynamodb(self) -> Any:
        return self._aws("dynamodb")

    @cached_property
    def kms(self) -> Any:
        return self._aws("kms")

    @cached_property
    def sqs(self) -> Any:
        return self._aws("sqs")

    @cached_property
    def table(self) -> Table:
        from hubnox.store.table import Table

        return Table(self.dynamodb, self.config.table_name)

    @cached_property
    def connections(self) -> ConnectionStore:
        from hubnox.store.connections import ConnectionStore
        from hubnox.store.crypto import TokenCipher

        return ConnectionStore(self.table, TokenCipher(self.kms, self.config.kms_key_id))

    @cached_property
    def nonces(self) -> NonceStore:
        from hubnox.store.nonces import NonceStore

        return NonceStore(self.table, self.clock)

    @cached_property
    def callback_claims(self) -> DynamoDBPersistenceLayer:
        """Powertools' idempotency records of workflow executions, in their own partition of the table and
        swept by its TTL."""
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        from hubnox.store.table import CALLBACKS_PK, TTL_ATTRIBUTE

        return DynamoDBPersistenceLayer(table_name=self.config.table_name, key_attr="pk", sort_key_attr="sk",
                                        static_pk_value=CALLBACKS_PK, expiry_attr=TTL_ATTRIBUTE,
                                        boto3_client=self.dynamodb)

    @cached_property
    def callback_idempotency(self) -> IdempotencyConfig:
        from hubnox.services.workflows import callback_idempotency

        return callback_idempotency()

    @cached_property
    def sessions(self) -> SessionStore:
        from hubnox.store.sessions import SessionStore

        return SessionStore(self.table, self.clock)

    @cached_property
    def leases(self) -> LeaseStore:
        from hubnox.store.leases import LeaseStore

        return LeaseStore(self.table, self.clock)

    @cached_property
    def trigger_log(self) -> TriggerLogStore:
        from hubnox.store.trigger_log import TriggerLogStore

        return TriggerLogStore(self.table, self.clock)

    @cached_property
    def runs(self) -> RunStore:
        from hubnox.store.runs import RunStore

        return RunStore(self.table, self.clock)

    @cached_property
    def deal_links(self) -> DealLinkStore:
        from hubnox.store.deal_links import DealLinkStore

        return DealLinkStore(self.table, self.clock)

    @cached_property
    def cursors(self) -> CursorStore:
        from hubnox.store.cursors import CursorStore

        return CursorStore(self.table)

    @cached_property
    def document_states(self) -> DocumentStateStore:
        from hubnox.store.document_states import DocumentStateStore

        return DocumentStateStore(self.table)

    @cached_property
    def portal_data(self) -> PortalDataStore:
        from hubnox.store.portals import PortalDataStore

        return PortalDataStore(self.table)

    @cached_property
    def portal_settings(self) -> SettingsStore:
        from hubnox.store.portal_settings import SettingsStore

        return SettingsStore(self.table)

    @cached_property
    def jobs(self) -> JobQueue:
        from hubnox.jobs import JobQueue

        return JobQueue(self.sqs, self.config.jobs_queue_url)

    @cached_property
    def submit(self) -> Submit:
        """`hubnox.jobs.submit` bound to this container's run store and jobs queue, each job booking its
        turn on its Fortnox company's admission schedule as it is sent."""
        from hubnox.jobs import submit

        return functools.partial(submit, self.runs, self.jobs, admission=self.admission)

    @cached_property
    def dead_letter_queue(self) -> DeadLetterQueue:
        from hubnox.dead_letter_queue import DeadLetterQueue

        return DeadLetterQueue(self.sqs, self.config.jobs_dlq_url)

    @cached_property
    def bulk_replay(self) -> BulkReplay:
        """The bulk replay of the failed runs the sync log's search finds."""
        from hubnox.services.bulk_replay import BulkReplay, failed_runs_in_log

        return BulkReplay(runs=self.runs, failed_runs=failed_runs_in_log(self.runs.search),
                          deal_links=self.deal_links, submit=self.submit)

    @cached_property
    def dead_letters(self) -> DeadLetters:
        from hubnox.services.dead_letters import DeadLetters

        return DeadLetters(queue=self.dead_letter_queue, runs=self.runs, submit=self.submit, jobs=self.jobs,
                           nonces=self.nonces)

    def default_document_type(self, portal_id: str) -> DocumentType:
        """The portal's default document type from its saved settings (an invoice before any are saved)."""
        from hubnox.sync.portal_settings import migrate

        return migrate(self.portal_settings.get(portal_id)[0]).default_document_type

    @cached_property
    def budget(self) -> DynamoRateBudget:
        """The API rate budget shared by every container (HubSpot per portal, Fortnox per company)."""
        from hubnox.store.shared_budget import DynamoRateBudget

        return DynamoRateBudget(self.table, self.clock)

    # -- signing -------------------------------------------------------------------------------

    @cached_property
    def signer(self) -> Signer:
        from hubnox.signing import Signer

        key = self.config.signing_key.get_secret_value()
        if not key:
            raise RuntimeError("SIGNING_KEY is not set: hubnox cannot sign links, state or sessions")
        return Signer(key, clock=self.clock)

    # -- HTTP APIs -----------------------------------------------------------------------------

    @cached_property
    def hubspot_http(self) -> httpx.Client:
        from hubnox.api_http import build_http_client

        return build_http_client(self.config.hubspot_api_url, timeout=self.config.http_timeout_seconds,
                                 transport=self._hubspot_transport)

    @cached_property
    def fortnox_http(self) -> httpx.Client:
        from hubnox.api_http import build_http_client

        return build_http_client(self.config.fortnox_api_url, timeout=self.config.http_timeout_seconds,
                                 transport=self._fortnox_transport)

    @cached_property
    def hubspot_oauth(self) -> HubSpotOAuth:
        from hubnox.hubspot.oauth import HubSpotOAuth

        return HubSpotOAuth(self.hubspot_http, client_id=self.config.hubspot_client_id,
                            client_secret=self.config.hubspot_client_secret.get_secret_value(),
                            auth_url=self.config.hubspot_auth_url, clock=self.clock)

    @cached_property
    def fortnox_oauth(self) -> FortnoxOAuth:
        from hubnox.fortnox.oauth import FortnoxOAuth

        return FortnoxOAuth(self.fortnox_http, client_id=self.config.fortnox_client_id,
                            client_secret=self.config.fortnox_client_secret.get_secret_value(),
                            auth_url=self.config.fortnox_auth_url, clock=self.clock)

    def hubspot_client(self, portal_id: str, tokens: TokenSource | None = None) -> HubSpotClient:
        """A client for one portal, with its stored, self-refreshing tokens unless others are given."""
        from hubnox.hubspot.client import HubSpotClient

        return HubSpotClient(self.hubspot_http, tokens or self.hubspot_tokens(portal_id), self.budget, portal_id,
                             clock=self.clock)

    def hubspot_tokens(self, portal_id: str) -> HubSpotTokenSource:
        from hubnox.tokens import HubSpotTokenSource

        return HubSpotTokenSource(portal_id, self.connections, self.leases, self.hubspot_oauth, self.clock,
                                  uninstalls=self.uninstalls)

    def fortnox_tokens(self, portal_id: str) -> FortnoxTokenSource:
        from hubnox.tokens import FortnoxTokenSource

        return FortnoxTokenSource(portal_id, self.connections, self.leases, self.fortnox_oauth, self.clock)

    def fortnox_client(self, portal_id: str) -> FortnoxClient:
        """A client for the portal's connected Fortnox company; ConnectionBrokenError when there is none."""
        from hubnox.errors import ConnectionBrokenError

        connection = self.connections.get_fortnox(portal_id)
        if connection is None:
            raise ConnectionBrokenError("Fortnox", "This HubSpot portal is not connected to Fortnox.")
        return self._fortnox_client_for(connection.tenant_id, self.fortnox_tokens(portal_id))

    def _fortnox_client_for(self, tenant_id: str, tokens: TokenSource) -> FortnoxClient:
        from hubnox.fortnox.client import FortnoxClient

        key = FortnoxClient.tenant_key_for(self.config.fortnox_client_id, tenant_id)
        return FortnoxClient(self.fortnox_http, tokens, self.budget, key)

    # -- services ------------------------------------------------------------------------------

    @cached_property
    def connection_service(self) -> ConnectionService:
        from hubnox.services.install import ConnectionService
        from hubnox.tokens import StaticToken

        return ConnectionService(
            public_base=self.config.public_base,
            connections=self.connections,
            sessions=self.sessions,
            nonces=self.nonces,
            signer=self.signer,
            hubspot_oauth=self.hubspot_oauth,
            fortnox_oauth=self.fortnox_oauth,
            hubspot_client=lambda portal_id, token: self.hubspot_client(portal_id, StaticToken(token)),
            fortnox_client=lambda tenant_id, token: self._fortnox_client_for(tenant_id, StaticToken(token)),
            fortnox_service_account=self.config.fortnox_service_account,
            health=self.connection_health,
            cursors=self.cursors,
            clock=self.clock,
        )

    @cached_property
    def uninstalls(self) -> UninstallService:
        """The one place an uninstall is handled: HubSpot's uninstall event and a refused refresh token."""
        from hubnox.services.install import UninstallService

        return UninstallService(connections=self.connections, sessions=self.sessions, clock=self.clock)

    @cached_property
    def portal_deletion(self) -> PortalDeletion:
        """Deleting a portal's data: the settings page's delete and the retention purge."""
        from hubnox.services.install import PortalDeletion

        return PortalDeletion(connection_service=self.connection_service, sessions=self.sessions,
                              portal_data=self.portal_data)

    @cached_property
    def uninstalled_data_purge(self) -> UninstalledDataPurge:
        """The poller's purge of portals uninstalled longer than the retention period."""
        from hubnox.services.install import UninstalledDataPurge

        return UninstalledDataPurge(connections=self.connections, deletion=self.portal_deletion.delete,
                                    retention_days=self.config.uninstalled_data_retention_days, clock=self.clock)

    @cached_property
    def health_store(self) -> HealthStore:
        from hubnox.store.health import HealthStore

        return HealthStore(self.table)

    @cached_property
    def connection_health(self) -> ConnectionHealthService:
        """Which features the portals' Fortnox companies let hubnox use, checked every few minutes."""
        from hubnox.services.connection_health import ConnectionHealthService

        return ConnectionHealthService(connections=self.connections, store=self.health_store,
                                       fortnox=self.fortnox_client, clock=self.clock)

    @cached_property
    def card_service(self) -> CardService:
        """The app card's builder, with its in-process cache (one per container)."""
        from hubnox.services.card.admins import SuperAdmins
        from hubnox.services.card.service import CardService

        return CardService(
            connections=self.connections,
            runs=self.runs,
            deal_links=self.deal_links,
            hubspot=self.hubspot_client,
            fortnox=self.fortnox_client,
            signer=self.signer,
            public_base=self.config.public_base,
            default_document_type=self.default_document_type,
            customer_matcher=self.match_customer,
            health=self.connection_health.for_portal,
            clock=self.clock,
            super_admins=SuperAdmins(self.hubspot_client).is_super_admin,
        )

    def match_customer(self, portal_id: str, object_type: str, record: CrmObject) -> str | None:
        """The card's look-up for a record without a customer number: the portal's match rules, read-only."""
        from hubnox.hubspot.models import Company, Contact
        from hubnox.sync.customers import find_customer_number
        from hubnox.sync.portal_settings import migrate

        settings = migrate(self.portal_settings.get(portal_id)[0])
        hubspot = self.hubspot_client(portal_id)
        full: Company | Contact
        if object_type == "company":
            full = hubspot.get_object("companies", record.id, settings.hubspot_properties()["company"], model=Company)
        else:
            full = hubspot.get_object("contacts", record.id, settings.hubspot_properties()["contact"], model=Contact)
        return find_customer_number(full, settings, self.fortnox_client(portal_id))

    @cached_property
    def card_actions(self) -> CardActions:
        from hubnox.services.card.actions import CardActions

        return CardActions(
            cards=self.card_service,
            connections=self.connections,
            runs=self.runs,
            deal_links=self.deal_links,
            submit=self.submit,
        )

    @cached_property
    def workflow_actions(self) -> WorkflowActions:
        """The workflow actions' executions and options."""
        from hubnox.services.workflows import WorkflowActions

        return WorkflowActions(connections=self.connections, claims=self.callback_claims,
                               idempotency=self.callback_idempotency, runs=self.runs, submit=self.submit,
                               fortnox=self.fortnox_client, default_document_type=self.default_document_type,
                               public_base=self.config.public_base, health=self.connection_health.for_portal)

    @cached_property
    def replay_pages(self) -> ReplayPages:
        """The Replay link's confirmation and replay pages."""
        from hubnox.services.replay import ReplayPages

        return ReplayPages(signer=self.signer, runs=self.runs, connections=self.connections, nonces=self.nonces,
                           submit=self.submit, public_base=self.config.public_base, deal_links=self.deal_links)

    @cached_property
    def portal_cache(self) -> PortalCacheStore:
        """Each portal's owners, tax-rate library, currency, products and reference contacts, cached for the
        worker's runs."""
        from hubnox.store.portal_cache import PortalCacheStore

        return PortalCacheStore(self.table, self.clock)

    def worker_hubspot_client(self, portal_id: str) -> HubSpot:
        """The portal's client as the worker's runs use it: its account look-ups cached per portal."""
        from hubnox.sync.portal_lookups import with_portal_lookups

        return with_portal_lookups(self.hubspot_client(portal_id), self.portal_cache, portal_id)

    @cached_property
    def article_cache(self) -> ArticleCacheStore:
        """Each Fortnox company's copy of its article list, for the worker's runs."""
        from hubnox.store.article_cache import ArticleCacheStore

        return ArticleCacheStore(self.table, self.clock)

    def worker_fortnox_client(self, portal_id: str) -> Fortnox:
        """The portal's Fortnox client as the worker's runs use it: articles from the tenant's copy."""
        from hubnox.sync.article_catalog import with_article_catalog

        client = self.fortnox_client(portal_id)
        return with_article_catalog(client, self.article_cache, client.tenant_key, self.clock)

    @cached_property
    def job_runner(self) -> JobRunner:
        """The worker's job runner over this container's clients and stores."""
        from hubnox.signals import RunSignals
        from hubnox.sync.runner import JobRunner
        from hubnox.web.render import render

        return JobRunner(
            hubspot=self.worker_hubspot_client,
            fortnox=self.worker_fortnox_client,
            runs=self.runs,
            deal_links=self.deal_links,
            settings=self.portal_settings,
            leases=self.leases,
            notes=render,
            signer=self.signer,
            public_base=self.config.public_base,
            follow_ups=self.jobs,
            outcomes=RunSignals(),
            installs=self.connections,
            admission=self.admission,
            made_customers=self.made_customers,
            clock=self.clock,
        )

    @cached_property
    def made_customers(self) -> MadeCustomerStore:
        """The Fortnox customer hubnox made for each HubSpot record, for the worker's customer guard."""
        from hubnox.store.made_customers import MadeCustomerStore

        return MadeCustomerStore(self.table, self.clock)

    @cached_property
    def admission(self) -> Admission:
        """Which jobs may start their Fortnox work now, by their company's budget (`hubnox.sync.admission`)."""
        from hubnox.fortnox.client import FortnoxClient
        from hubnox.sync.admission import Admission

        def budget_key(portal_id: str) -> str | None:
            tenant_id = self.connections.fortnox_tenant(portal_id)
            return None if tenant_id is None else "fortnox:" + FortnoxClient.tenant_key_for(
                self.config.fortnox_client_id, tenant_id)
        return Admission(schedule=self.budget, budget_key=budget_key, leases=self.leases, clock=self.clock)

    def stage_rules(self, portal_id: str) -> list[StageRule]:
        """The portal's trigger stages from its saved settings (none before the admin saves any)."""
        from hubnox.sync.poller import StageRule
        from hubnox.sync.portal_settings import migrate

        payload, _ = self.portal_settings.get(portal_id)
        return [StageRule(stage.stage_id, stage.document_type, stage.pipeline_id)
                for stage in migrate(payload).trigger_stages]

    def enqueue_stage_document(self, portal_id: str, deal_id: str, rule: StageRule,
                               source: TriggerSource = "poller") -> Run:
        """Submit the document a deal that entered a trigger stage gets, as the poller or a webhook found it."""
        from hubnox.records import RunRequest

        return self.submit(RunRequest(portal_id=portal_id, kind="create_document", trigger=source,
                                      object_type="deal", object_id=deal_id, document_type=rule.document_type,
                                      trigger_key=rule.trigger_key))

    @cached_property
    def poller(self) -> Poller:
        """The poller over this container's stores, HubSpot clients and jobs queue."""
        from hubnox.sync.poller import Poller

        return Poller(portals=self.connections.list_portals, rules_for=self.stage_rules,
                      search_for=self.hubspot_client, cursors=self.cursors, decider=self.trigger_decider,
                      clock=self.clock)

    @cached_property
    def trigger_decider(self) -> TriggerDecider:
        """The one decision, shared by the poller and the webhooks, whether a deal in a trigger stage gets a run."""
        from hubnox.sync.triggers import TriggerDecider

        return TriggerDecider(deal_links=self.deal_links, runs=self.runs, claims=self.nonces, leases=self.leases,
                              enqueue=self.enqueue_stage_document, log=self.trigger_log, clock=self.clock)

    @cached_property
    def webhooks(self) -> WebhookService:
        """HubSpot's webhook events turned into trigger decisions."""
        from hubnox.services.webhooks import WebhookService

        return WebhookService(connections=self.connections, rules_for=self.stage_rules,
                              decider=self.trigger_decider,
                              uninstalls=self.uninstalls)

    @cached_property
    def poll_queue(self) -> PollQueue:
        """The queue of portals to poll, one message each."""
        from hubnox.poll_queue import PollQueue

        return PollQueue(self.sqs, self.config.poll_queue_url)

    @cached_property
    def portal_poll(self) -> PortalPoll:
        """One portal's poll for one poll message, over the poller's deal decision."""
        from hubnox.sync.poll_fanout import PortalPoll

        return PortalPoll(self.poller, rules_for=self.stage_rules, search_for=self.hubspot_client,
                          cursors=self.cursors, leases=self.leases, clock=self.clock)

    def portal_settings_of(self, portal_id: str) -> PortalSettings:
        """The portal's saved settings, migrated to the current schema (the defaults before any save)."""
        from hubnox.sync.portal_settings import migrate

        payload, _ = self.portal_settings.get(portal_id)
        return migrate(payload)

    def status_hubspot(self, portal_id: str) -> HubSpotStatusWrites:
        """The portal's HubSpot as the status sync writes it (batch updates, searches, notes)."""
        from hubnox.sync.ports import HubSpotStatusWrites

        return cast(HubSpotStatusWrites, self.hubspot_client(portal_id))

    def upgrade_app_properties(self, portal_id: str) -> bool:
        """Bring the portal's hubnox properties up to the current version before a status sync writes
        them: installs made before the status properties existed get them on their first sync."""
        from hubnox.hubspot.app_properties import upgrade_if_needed

        return upgrade_if_needed(self.hubspot_client(portal_id), self.cursors, portal_id)

    @cached_property
    def status_sync(self) -> StatusSync:
        """One portal's status sync for one status message: Fortnox's changes back onto HubSpot."""
        from hubnox.sync.status_sync import StatusSync

        return StatusSync(fortnox_for=self.fortnox_client, hubspot_for=self.status_hubspot,
                          documents=self.document_states, deal_links=self.deal_links, cursors=self.cursors,
                          leases=self.leases, settings_for=self.portal_settings_of,
                          upgrade=self.upgrade_app_properties, clock=self.clock)

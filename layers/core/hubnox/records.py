"""The records hubnox keeps about its work and its installations: runs, deal links and connections.

Plain values: `hubnox.store` reads and writes them in DynamoDB; the sync logic and the services
take them through their ports, never the store itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

# -- runs ----------------------------------------------------------------------------------------

RunKind = Literal["create_document", "sync_customer", "sync_products"]
RunTrigger = Literal["workflow", "poller", "webhook", "card", "replay", "settings"]
RunStatus = Literal["queued", "running", "succeeded", "failed"]
#: how far a finished run's outcome has been told (`hubnox.sync.delivery`): `pending` while a step
#: (note, properties, callback) waits for HubSpot, `gave_up` when one could not be told in time
DeliveryState = Literal["pending", "delivered", "gave_up"]
DocumentType = Literal["invoice", "order"]
ObjectType = Literal["deal", "company", "contact"]


class RunRequest(BaseModel):
    """What an entry point asks a run to do: submitted as it is, stored on the run, carried by its job."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    portal_id: str
    kind: RunKind
    trigger: RunTrigger
    object_type: ObjectType | None = None
    object_id: str | None = None
    #: None: the portal's default document type
    document_type: DocumentType | None = None
    #: the trigger rule the run acts for; a deal gets at most one document per rule
    trigger_key: str | None = None
    #: the HubSpot workflow execution to complete when the run ends
    callback_id: str | None = None
    #: the Fortnox print template the trigger asked for (None: the customer's default template)
    print_template: str | None = None

    @property
    def request(self) -> RunRequest:
        """Just the request, without what a run or a job adds to it."""
        return RunRequest.model_validate(self.model_dump(include=set(RunRequest.model_fields)))


class RunIdentity(BaseModel):
    """The id a run and its job share (the run id doubles as the job id)."""

    run_id: str


class Run(RunRequest, RunIdentity):
    """One run as stored: its request, and how far it got."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    status: RunStatus = "queued"
    #: reporting steps already done (e.g. note_id, pdf_file_id), so a retry does not repeat them
    progress: dict[str, str] = Field(default_factory=dict)
    attempts: int = 0
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    result: dict[str, Any] = Field(default_factory=dict)
    replay_of: str | None = None
    #: the one replay of this run, claimed before that replay run is created (`RunStore.claim_replay`)
    replayed_by: str | None = None
    #: what the run's outcome tells HubSpot (a `hubnox.sync.delivery.Outcome` as JSON), once finished
    outcome: dict[str, Any] | None = None
    delivery: DeliveryState | None = None
    #: the deal's (or company's, contact's) name, once a try has read the record
    record_name: str | None = None
    #: the Fortnox customer the document went to, once known
    customer_number: str | None = None
    customer_name: str | None = None
    #: what each try did, oldest first and bounded (`hubnox.store.runs.HISTORY_MAX`): `started`, then
    #: `succeeded` or `failed` with the error, each `{"event", "at", "attempt"?, "error_code"?, "error_message"?}`
    history: list[dict[str, Any]] = Field(default_factory=list)
    #: the later run that made this failure good (it made the same deal's document for the same trigger)
    superseded_by: str | None = None

    @property
    def final(self) -> bool:
        """Whether the run is over: it succeeded or failed and its outcome is no longer waiting to be told."""
        return self.status in ("succeeded", "failed") and self.delivery != "pending"


#: the sync log's triggers beyond `RunTrigger`: runs of a kind, whatever started them
KIND_TRIGGERS: dict[str, RunKind] = {"product_sync": "sync_products", "customer_sync": "sync_customer"}


@dataclass(frozen=True)
class RunFilter:
    """What the sync log asks of a portal's runs; every criterion given must hold (`RunStore.search`)."""

    status: RunStatus | None = None
    #: a `RunTrigger`, or one of `KIND_TRIGGERS` ("product_sync", "customer_sync") for runs of that kind
    trigger: str | None = None
    document_type: DocumentType | None = None
    #: epoch seconds, inclusive
    created_from: float | None = None
    #: epoch seconds, exclusive
    created_to: float | None = None
    #: a record name prefix (case and accents ignored), a record id, or a document number
    text: str | None = None


@dataclass(frozen=True)
class RunPage:
    """One page of the sync log, newest first (name searches: by name, then newest first); `next_cursor`
    continues after it (None: nothing more matched)."""

    runs: list[Run]
    next_cursor: str | None


# -- deal links ----------------------------------------------------------------------------------


class DealLink(BaseModel):
    """Which run claimed a deal for a trigger, and the document it recorded (once it has)."""

    model_config = ConfigDict(frozen=True)

    portal_id: str
    deal_id: str
    trigger_key: str
    run_id: str
    claimed_at: float
    document_type: str | None = None
    document_number: str | None = None
    documented_at: float | None = None
    #: when a run was about to ask Fortnox to create the document, and which run: written before
    #: every create, so a link with it and no document number may have a document in Fortnox
    #: (an answer lost), and the next run looks the deal up there before making one
    create_started_at: float | None = None
    create_run_id: str | None = None

    def claimed_by(self, run_id: str) -> bool:
        """Whether `run_id` holds this claim."""
        return self.run_id == run_id


# -- connections ---------------------------------------------------------------------------------

System = Literal["hubspot", "fortnox"]
HubSpotStatus = Literal["active", "broken", "uninstalled"]
FortnoxStatus = Literal["active", "broken"]
FortnoxAuthMode = Literal["client_credentials", "authorization_code"]


class HubSpotConnection(BaseModel):
    """The app's installation in one HubSpot portal."""

    model_config = ConfigDict(frozen=True)

    portal_id: str
    hub_domain: str = ""
    access_token: SecretStr = SecretStr("")
    refresh_token: SecretStr = SecretStr("")
    #: epoch seconds after which the access token no longer works
    access_expires_at: float = 0
    scopes: tuple[str, ...] = ()
    status: HubSpotStatus = "active"
    installed_at: float
    installed_by_user: str | None = None
    broken_reason: str | None = None
    #: epoch seconds when hubnox learnt the app was uninstalled (the retention period counts from it)
    uninstalled_at: float | None = None
    #: how hubnox learnt it: HubSpot's uninstall event or a refused refresh token
    uninstall_reason: str | None = None
    #: token version, as stored; 0 for a connection not yet saved
    version: int = 0


class FortnoxConnection(BaseModel):
    """The one Fortnox company a portal is connected to."""

    model_config = ConfigDict(frozen=True)

    portal_id: str
    tenant_id: str
    company_name: str = ""
    auth_mode: FortnoxAuthMode
    access_token: SecretStr = SecretStr("")
    #: empty with client credentials, which have no refresh token
    refresh_token: SecretStr = SecretStr("")
    access_expires_at: float = 0
    scopes: tuple[str, ...] = ()
    status: FortnoxStatus = "active"
    connected_at: float
    broken_reason: str | None = None
    version: int = 0

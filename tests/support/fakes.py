"""In-memory fakes of the ports (`hubnox.sync.ports`) and of the stores the services take, for unit tests
of the services without AWS or the simulators.

Each fake keeps what the real store keeps and refuses what it refuses (first claim wins, a succeeded
run stays succeeded, a stale version is refused, a Fortnox company serves one portal), in a few lines
over dicts. Time comes from the one fake clock, `tests.support.clock.FakeClock`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from pydantic import SecretStr

from hubnox.errors import NotFoundError
from hubnox.hubspot.models import AssociationInput, BatchUpdateResult, CrmObject
from hubnox.jobs import Job
from hubnox.records import (
    DealLink,
    DeliveryState,
    FortnoxConnection,
    HubSpotConnection,
    HubSpotStatus,
    Run,
    RunFilter,
    RunPage,
    RunRequest,
    System,
)
from hubnox.runlog import checked, is_id_text, log_order, matches, name_key, newest_first
from hubnox.store.connections import FortnoxAlreadyConnected, FortnoxCompanyTaken
from hubnox.store.runs import (
    HISTORY_MAX,
    SEARCH_LIMIT_MAX,
    ReplayClaimLost,
    new_run_id,
    read_run_cursor,
    run_cursor,
)
from hubnox.store.table import ConditionFailed, StaleVersion
from hubnox.sync.status_model import CustomerSnapshot, DocumentSnapshot
from tests.support.clock import FakeClock

# -- what hubnox keeps ---------------------------------------------------------------------------------


class Runs:
    """`RunLog` and `RunHistory` (`RunStore`): time-ordered ids, a pointer to each object's newest run."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.lock = threading.Lock()  # conditional writes are atomic, as DynamoDB's are
        self.runs: dict[tuple[str, str], Run] = {}
        self.latest: dict[tuple[str, str, str], str] = {}

    def new_id(self) -> str:
        return new_run_id(self.clock())

    def create(self, request: RunRequest, *, replay_of: str | None = None, run_id: str | None = None) -> Run:
        run = Run(run_id=run_id or new_run_id(self.clock()), **request.request.model_dump(),
                  created_at=self.clock(), replay_of=replay_of)
        with self.lock:  # a claimed replay is created only while its claim names it, as in one transaction
            replayed = self.runs.get((run.portal_id, replay_of)) if run_id and replay_of else None
            if run_id and (replayed is None or replayed.replayed_by != run_id):
                raise ReplayClaimLost(f"Run {replay_of} no longer names {run_id} as its replay.")
            self.runs[run.portal_id, run.run_id] = run
        if run.object_type and run.object_id:
            key = (run.portal_id, run.object_type, run.object_id)
            self.latest[key] = max(self.latest.get(key, ""), run.run_id)  # never back to an older run
        return run

    def get(self, portal_id: str, run_id: str) -> Run | None:
        return self.runs.get((portal_id, run_id))

    def claim_replay(self, portal_id: str, run_id: str, replay_run_id: str, *,
                     replacing: str | None = None) -> str | None:
        with self.lock:
            run = self._stored(portal_id, run_id)
            if run.replayed_by != replacing:
                return run.replayed_by
            self._save(run, replayed_by=replay_run_id)
            return replay_run_id

    def latest_for_object(self, portal_id: str, object_type: str, object_id: str) -> Run | None:
        run_id = self.latest.get((portal_id, object_type, object_id))
        return self.get(portal_id, run_id) if run_id else None

    def list_recent(self, portal_id: str, limit: int = 20) -> list[Run]:
        mine = [run for (portal, _), run in self.runs.items() if portal == portal_id]
        return sorted(mine, key=lambda run: run.run_id, reverse=True)[:limit]

    def mark_running(self, portal_id: str, run_id: str) -> Run:
        run = self._stored(portal_id, run_id)
        if run.status == "succeeded" or run.delivery is not None:
            return run
        return self._save(run, status="running", started_at=self.clock(), finished_at=None, error_code=None,
                          error_message=None, outcome=None, delivery=None, attempts=run.attempts + 1,
                          history=_appended(run, {"event": "started", "at": self.clock()}))

    def search(self, portal_id: str, run_filter: RunFilter, *, limit: int = 50, cursor: str | None = None) -> RunPage:
        run_filter = checked(run_filter)
        limit = min(max(int(limit), 1), SEARCH_LIMIT_MAX)
        by_name = bool(run_filter.text) and not is_id_text(run_filter.text or "")
        after = read_run_cursor(cursor, portal_id, name_key(run_filter.text) if by_name else None)
        mine = [run for (portal, _), run in self.runs.items() if portal == portal_id and matches(run, run_filter)]
        found = sorted(mine, key=lambda run: log_order(run, run_filter))
        if after is not None:
            start = after if by_name else newest_first(after)
            found = [run for run in found if log_order(run, run_filter) > start]
        page = found[:limit]
        if len(found) <= limit:
            return RunPage(runs=page, next_cursor=None)
        last = page[-1]
        position = newest_first(log_order(last, run_filter)) if not by_name else log_order(last, run_filter)
        return RunPage(runs=page, next_cursor=run_cursor(portal_id, position, by_name))

    def record_progress(self, portal_id: str, run_id: str, progress: dict[str, str]) -> None:
        self._save(self._stored(portal_id, run_id), progress=dict(progress))

    def record_delivery(self, portal_id: str, run_id: str, progress: dict[str, str], delivery: DeliveryState) -> Run:
        return self._save(self._stored(portal_id, run_id), progress=dict(progress), delivery=delivery)

    def succeed(self, portal_id: str, run_id: str, result: dict[str, Any] | None = None,
                outcome: dict[str, Any] | None = None) -> Run:
        run = self._stored(portal_id, run_id)
        saved = self._save(run, status="succeeded", finished_at=self.clock(), result=result or {}, error_code=None,
                           error_message=None, **_pending(outcome), **_learned(run, result),
                           history=_appended(run, {"event": "succeeded", "at": self.clock()}))
        if saved.kind == "create_document" and saved.object_id and saved.trigger_key:
            for earlier in list(self.runs.values()):
                if (earlier.portal_id == portal_id and earlier.status == "failed" and earlier.run_id < run_id
                        and earlier.superseded_by is None and earlier.trigger_key == saved.trigger_key
                        and (earlier.object_type, earlier.object_id) == (saved.object_type, saved.object_id)):
                    self._save(earlier, superseded_by=run_id)
        return saved

    def fail(self, portal_id: str, run_id: str, error_code: str, error_message: str,
             result: dict[str, Any] | None = None, outcome: dict[str, Any] | None = None) -> Run:
        run = self._stored(portal_id, run_id)
        if run.status == "succeeded":
            return run
        return self._save(run, status="failed", finished_at=self.clock(), error_code=error_code,
                          error_message=error_message, result=result or {}, **_pending(outcome),
                          **_learned(run, result),
                          history=_appended(run, {"event": "failed", "at": self.clock(), "error_code": error_code,
                                                  "error_message": error_message[:1000]}))

    def _stored(self, portal_id: str, run_id: str) -> Run:
        run = self.get(portal_id, run_id)
        if run is None:
            raise NotFoundError(f"Run {run_id} of portal {portal_id} does not exist.")
        return run

    def _save(self, run: Run, **changes: Any) -> Run:
        self.runs[run.portal_id, run.run_id] = saved = run.model_copy(update=changes)
        return saved


def _pending(outcome: dict[str, Any] | None) -> dict[str, Any]:
    return {} if outcome is None else {"outcome": outcome, "delivery": "pending"}


def _appended(run: Run, entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [*run.history, entry][-HISTORY_MAX:]


def _learned(run: Run, result: dict[str, Any] | None) -> dict[str, Any]:
    """What `RunStore` keeps from a try's result: the record's name and the customer, when the try learned them."""
    found = result or {}
    learned: dict[str, Any] = {}
    if isinstance(found.get("record_name"), str) and found["record_name"].strip():
        learned["record_name"] = found["record_name"].strip()[:300]
    for key in ("customer_number", "customer_name"):
        if found.get(key):
            learned[key] = str(found[key])[:300]
    return learned


class DealLinks:
    """`DealLinks` (`DealLinkStore`): the first claim of a deal and trigger wins, one document per claim."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.links: dict[tuple[str, str, str], DealLink] = {}

    def get(self, portal_id: str, deal_id: str, trigger_key: str) -> DealLink | None:
        return self.links.get((portal_id, deal_id, trigger_key))

    def claim(self, portal_id: str, deal_id: str, trigger_key: str, run_id: str) -> DealLink:
        return self.links.setdefault((portal_id, deal_id, trigger_key), DealLink(
            portal_id=portal_id, deal_id=deal_id, trigger_key=trigger_key, run_id=run_id, claimed_at=self.clock()))

    def set_document(self, portal_id: str, deal_id: str, trigger_key: str, document_type: str,
                     document_number: str) -> DealLink:
        link = self.get(portal_id, deal_id, trigger_key)
        if link is None:
            raise NotFoundError(f"Deal {deal_id} of portal {portal_id} has no claim for trigger {trigger_key}.")
        if link.document_number and (link.document_number, link.document_type) != (document_number, document_type):
            raise ConditionFailed(f"Deal {deal_id} already has {link.document_type} {link.document_number}",
                                  item=link.model_dump())
        self.links[portal_id, deal_id, trigger_key] = link = link.model_copy(update={
            "document_type": document_type, "document_number": document_number, "documented_at": self.clock()})
        return link

    def mark_creating(self, portal_id: str, deal_id: str, trigger_key: str, run_id: str) -> bool:
        link = self.get(portal_id, deal_id, trigger_key)
        if link is None or link.document_number:
            return False
        self.links[portal_id, deal_id, trigger_key] = link.model_copy(update={
            "create_started_at": self.clock(), "create_run_id": run_id})
        return True

    def forget_document(self, portal_id: str, deal_id: str, trigger_key: str, document_number: str) -> bool:
        link = self.get(portal_id, deal_id, trigger_key)
        if link is None or link.document_number != document_number:
            return False
        self.links[portal_id, deal_id, trigger_key] = link.model_copy(update={
            "document_type": None, "document_number": None, "documented_at": None})
        return True

    def for_deal(self, portal_id: str, deal_id: str) -> list[DealLink]:
        return [link for (portal, deal, _), link in self.links.items() if (portal, deal) == (portal_id, deal_id)]

    def documents_by_deal(self, portal_id: str) -> dict[str, set[tuple[str, str]]]:
        documents: dict[str, set[tuple[str, str]]] = {}
        for (portal, deal, _), link in self.links.items():
            if portal == portal_id and link.document_number:
                documents.setdefault(deal, set()).add((link.document_type or "", link.document_number))
        return documents

    def oldest_documented_at(self, portal_id: str) -> float | None:
        times = [link.documented_at for (portal, _, _), link in self.links.items()
                 if portal == portal_id and link.documented_at is not None]
        return min(times) if times else None


class DocumentStates:
    """`DocumentStates` (`DocumentStateStore`): snapshots by portal and key; `reads` counts the batch reads
    (100 keys each) and customer reads, as DynamoDB would bill them."""

    def __init__(self) -> None:
        self.documents: dict[tuple[str, str, str], DocumentSnapshot] = {}
        self.customers: dict[tuple[str, str], CustomerSnapshot] = {}
        self.reads = 0

    def get_many(self, portal_id: str, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], DocumentSnapshot]:
        wanted = list(dict.fromkeys(keys))
        self.reads += -(-len(wanted) // 100)
        return {key: self.documents[portal_id, *key] for key in wanted if (portal_id, *key) in self.documents}

    def put(self, portal_id: str, kind: str, number: str, snapshot: DocumentSnapshot) -> None:
        self.documents[portal_id, kind, number] = snapshot

    def customer(self, portal_id: str, customer_number: str) -> CustomerSnapshot | None:
        self.reads += 1
        return self.customers.get((portal_id, customer_number))

    def put_customer(self, portal_id: str, customer_number: str, snapshot: CustomerSnapshot) -> None:
        self.customers[portal_id, customer_number] = snapshot


class Leases:
    """`Leases` (`LeaseStore`): free, expired or already the owner's lease can be taken."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.held: dict[str, tuple[str, float]] = {}

    def acquire(self, name: str, owner: str, ttl_seconds: float) -> bool:
        holder, until = self.held.get(name, (owner, 0.0))
        if holder != owner and until > self.clock():
            return False
        self.held[name] = (owner, self.clock() + ttl_seconds)
        return True

    def release(self, name: str, owner: str) -> bool:
        if self.held.get(name, ("", 0.0))[0] != owner:
            return False
        del self.held[name]
        return True


class MadeCustomers:
    """`MadeCustomers` (`MadeCustomerStore`): the customer number made per portal, tenant and record."""

    def __init__(self) -> None:
        self.numbers: dict[tuple[str, str, str, str], str] = {}

    def get(self, portal_id: str, tenant: str, kind: str, record_id: str) -> str | None:
        return self.numbers.get((portal_id, tenant, kind, record_id))

    def put(self, portal_id: str, tenant: str, kind: str, record_id: str, customer_number: str) -> None:
        self.numbers[portal_id, tenant, kind, record_id] = customer_number


class TriggerLog:
    """`TriggerLog` (`TriggerLogStore`): the decisions recorded, oldest first."""

    def __init__(self) -> None:
        self.entries: list[Any] = []

    def record(self, entry: Any) -> None:
        self.entries.append(entry)

    def decisions(self, deal_id: str | None = None) -> list[tuple[str, str, str]]:
        """(deal, source, decision) of each entry, for `deal_id` only when given."""
        return [(entry.deal_id, entry.source, entry.decision) for entry in self.entries
                if deal_id is None or entry.deal_id == deal_id]


class Nonces:
    """`NonceClaims` (`NonceStore`): a value is claimed once until it expires, or is given back."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.claimed: dict[tuple[str, str], float] = {}

    def claim(self, kind: str, value: str, ttl_seconds: float) -> bool:
        if not value:
            raise ValueError(f"an empty {kind} cannot be claimed")
        if self.claimed.get((kind, value), 0.0) > self.clock():
            return False
        self.claimed[kind, value] = self.clock() + ttl_seconds
        return True

    def release(self, kind: str, value: str) -> None:
        self.claimed.pop((kind, value), None)

    def of_kind(self, kind: str) -> list[str]:
        """The values of `kind` claimed and not given back."""
        return [value for (claimed_kind, value) in self.claimed if claimed_kind == kind]


class Cursors:
    """`Cursors` (`CursorStore`): one string per portal and name."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}

    def get(self, portal_id: str, name: str) -> str | None:
        return self.values.get((portal_id, name))

    def put(self, portal_id: str, name: str, value: str) -> None:
        self.values[portal_id, name] = value


class Settings:
    """`SettingsSource` (`SettingsStore`): a payload saved whole over the version it was read at."""

    def __init__(self) -> None:
        self.saved: dict[str, tuple[dict[str, Any], int]] = {}

    def get(self, portal_id: str) -> tuple[dict[str, Any] | None, int]:
        payload, version = self.saved.get(portal_id, (None, 0))
        return (dict(payload) if payload is not None else None), version

    def put(self, portal_id: str, payload: Mapping[str, Any], expected_version: int) -> int:
        _, version = self.get(portal_id)
        if version != expected_version:
            raise StaleVersion(f"the settings of portal {portal_id}", expected=expected_version, actual=version)
        self.saved[portal_id] = (dict(payload), version + 1)
        return version + 1


class Connections:
    """`Connections`, and the writes of `ConnectionStore`: versions count token writes, a Fortnox company
    serves one portal, an uninstalled portal keeps its Fortnox connection but leaves the registry."""

    def __init__(self) -> None:
        self.hubspot: dict[str, HubSpotConnection] = {}
        self.fortnox: dict[str, FortnoxConnection] = {}
        #: which portal holds each Fortnox company (tenant id)
        self.holders: dict[str, str] = {}

    def get_hubspot(self, portal_id: str) -> HubSpotConnection | None:
        return self.hubspot.get(portal_id)

    def hubspot_status(self, portal_id: str) -> HubSpotStatus | None:
        connection = self.hubspot.get(portal_id)
        return connection.status if connection else None

    def get_fortnox(self, portal_id: str) -> FortnoxConnection | None:
        return self.fortnox.get(portal_id)

    def fortnox_status(self, portal_id: str) -> str | None:
        connection = self.fortnox.get(portal_id)
        return connection.status if connection else None

    def list_portals(self) -> list[str]:
        return [portal for portal, connection in self.hubspot.items() if connection.status != "uninstalled"]

    def put_hubspot(self, connection: HubSpotConnection) -> HubSpotConnection:
        before = self.hubspot.get(connection.portal_id)
        version = (before.version if before else 0) + 1
        self.hubspot[connection.portal_id] = stored = connection.model_copy(update={"version": version})
        return stored

    def put_fortnox(self, connection: FortnoxConnection) -> FortnoxConnection:
        portal_id, tenant_id = connection.portal_id, connection.tenant_id
        current = self.fortnox.get(portal_id)
        if current is not None and current.tenant_id != tenant_id:
            raise FortnoxAlreadyConnected(portal_id, current.tenant_id, current.company_name)
        holder = self.holders.get(tenant_id)
        held = self.fortnox.get(holder) if holder else None
        if holder and holder != portal_id and held is not None and held.tenant_id == tenant_id:
            raise FortnoxCompanyTaken(tenant_id, holder)
        version = (current.version if current else 0) + 1
        self.fortnox[portal_id] = stored = connection.model_copy(update={"version": version})
        self.holders[tenant_id] = portal_id
        return stored

    def delete_fortnox(self, portal_id: str) -> FortnoxConnection | None:
        removed = self.fortnox.pop(portal_id, None)
        if removed is not None and self.holders.get(removed.tenant_id) == portal_id:
            del self.holders[removed.tenant_id]
        return removed

    def mark_uninstalled(self, portal_id: str, *, at: float | None = None, reason: str | None = None) -> bool:
        connection = self.hubspot.get(portal_id)
        if connection is None:
            return False
        if connection.status == "uninstalled":
            if at is not None and connection.uninstalled_at is None:
                self.hubspot[portal_id] = connection.model_copy(update={"uninstalled_at": at})
            return False
        self.hubspot[portal_id] = connection.model_copy(update={
            "status": "uninstalled", "access_token": SecretStr(""), "refresh_token": SecretStr(""),
            "broken_reason": None, "uninstalled_at": at, "uninstall_reason": reason or None,
            "version": connection.version + 1})
        return True

    def clear_uninstall_mark(self, portal_id: str) -> None:
        connection = self.hubspot.get(portal_id)
        if connection is not None and connection.status != "uninstalled":
            self.hubspot[portal_id] = connection.model_copy(update={"uninstalled_at": None})

    def uninstalled_portals(self) -> dict[str, float]:
        return {portal: connection.uninstalled_at for portal, connection in self.hubspot.items()
                if connection.status == "uninstalled" and connection.uninstalled_at is not None}

    def mark_broken(self, portal_id: str, system: System, reason: str) -> bool:
        stored: dict[str, Any] = self.hubspot if system == "hubspot" else self.fortnox
        connection = stored.get(portal_id)
        if connection is None or connection.status == "uninstalled":
            return False
        stored[portal_id] = connection.model_copy(update={"status": "broken", "broken_reason": reason})
        return True


def installed(connections: Connections, portal_id: str, *, user: str = "5", fortnox: bool = True,
              tenant_id: str | None = None) -> Connections:
    """`connections` with hubnox installed in the portal by `user` and, unless told otherwise, a Fortnox
    company of its own (`tenant_id`, else one named after the portal) connected."""
    connections.put_hubspot(HubSpotConnection(portal_id=portal_id, hub_domain=f"portal-{portal_id}.example.com",
                                              access_token=f"hs-{portal_id}", installed_at=0,
                                              installed_by_user=user))
    if fortnox:
        connections.put_fortnox(FortnoxConnection(portal_id=portal_id, tenant_id=tenant_id or f"7{portal_id}",
                                                  company_name="Acme AB", auth_mode="authorization_code",
                                                  access_token="fx-access", refresh_token="fx-refresh",
                                                  connected_at=0))
    return connections


class Sessions:
    """The `SessionStore`: a generation per portal that `end_all` raises, and sessions ended one by one."""

    def __init__(self) -> None:
        self.generations: dict[str, int] = {}
        self.ended_ids: set[str] = set()

    def generation(self, portal_id: str) -> int:
        return self.generations.get(portal_id, 0)

    def end_all(self, portal_id: str) -> int:
        self.generations[portal_id] = self.generation(portal_id) + 1
        return self.generations[portal_id]

    def end(self, session_id: str, expires_at: float) -> None:
        self.ended_ids.add(session_id)

    def ended(self, session_id: str) -> bool:
        return session_id in self.ended_ids


class CallbackClaims(BasePersistenceLayer):
    """Powertools' idempotency records in memory: a record that exists and has not expired refuses a second."""

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, DataRecord] = {}

    def _get_record(self, idempotency_key: str) -> DataRecord:
        try:
            return self.records[idempotency_key]
        except KeyError as missing:
            raise IdempotencyItemNotFoundError from missing

    def _put_record(self, data_record: DataRecord) -> None:
        old = self.records.get(data_record.idempotency_key)
        if old is not None and not old.is_expired:
            raise IdempotencyItemAlreadyExistsError(old_data_record=old)
        self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.records.pop(data_record.idempotency_key, None)


# -- jobs ----------------------------------------------------------------------------------------------


class Queue:
    """The jobs queue (`JobQueue`): jobs as sent, and each one's delay; while `down` is set, sending
    raises it."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self.delays: list[int] = []
        self.down: Exception | None = None

    def send(self, job: Job, *, delay_seconds: int = 0) -> None:
        if self.down is not None:
            raise self.down
        self.jobs.append(job)
        self.delays.append(delay_seconds)


# -- HubSpot -------------------------------------------------------------------------------------------


class HubSpot:
    """A portal's CRM as `HubSpotReads` and `HubSpotWrites` see it: objects by type and id, searched with
    `EQ`, `IN` and `GTE` filters and sorted as asked; every search and write kept in order.

    `failure`, when set, is raised by every call, as a HubSpot that is down or refuses the portal.
    """

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, CrmObject]] = {}
        self.searches: list[dict[str, Any]] = []
        self.writes: list[tuple[str, ...]] = []
        self.failure: Exception | None = None
        #: ids `batch_update` refuses, as HubSpot's 207 does for an input it cannot take
        self.refuse: set[str] = set()

    def put(self, object_type: str, object_id: str, **properties: str) -> CrmObject:
        stored = CrmObject(id=object_id, properties=dict(properties))
        self.objects.setdefault(object_type, {})[object_id] = stored
        return stored

    def get_object(self, object_type: str, object_id: str, properties: Sequence[str] = (),
                   associations: Sequence[str] = (), *, model: Any = CrmObject) -> Any:
        self._maybe_fail()
        found = self.objects.get(object_type, {}).get(object_id)
        if found is None:
            raise NotFoundError(f"No {object_type} {object_id}.")
        return model.model_validate(found.model_dump(by_alias=True))

    def iter_search(self, object_type: str, filter_groups: Sequence[Mapping[str, Any]], properties: Sequence[str],
                    sorts: Sequence[Mapping[str, str] | str] = (), *, page_size: int = 100,
                    model: type[CrmObject] = CrmObject) -> Iterator[CrmObject]:
        self.searches.append({"object_type": object_type, "filter_groups": filter_groups,
                              "properties": list(properties), "sorts": list(sorts)})
        self._maybe_fail()
        found = [crm for crm in self.objects.get(object_type, {}).values()
                 if any(all(_passes(crm, rule) for rule in group["filters"]) for group in filter_groups)]
        for sort in reversed(sorts):
            name = sort if isinstance(sort, str) else sort["propertyName"]
            descending = not isinstance(sort, str) and sort.get("direction") == "DESCENDING"
            found.sort(key=lambda crm, name=name: _comparable(crm.prop(name) or ""), reverse=descending)
        yield from found

    def update(self, object_type: str, object_id: str, properties: Mapping[str, Any]) -> CrmObject:
        self._maybe_fail()
        self.writes.append(("update", object_type, object_id, repr(dict(properties))))
        stored = self.objects.get(object_type, {}).get(object_id) or self.put(object_type, object_id)
        return self.put(object_type, object_id, **{**stored.properties, **properties})

    def create(self, object_type: str, properties: Mapping[str, Any],
               associations: Sequence[AssociationInput] = ()) -> CrmObject:
        self._maybe_fail()
        object_id = str(1000 + sum(len(objects) for objects in self.objects.values()))
        self.writes.append(("create", object_type, object_id))
        return self.put(object_type, object_id, **properties)

    def batch_update(self, object_type: str, updates: Mapping[str, Mapping[str, Any]]) -> BatchUpdateResult:
        """Up to 100 records a call, as HubSpot takes them; ids it does not hold come back missing, and
        ids in `refuse` as errors (a 207 partial answer)."""
        self._maybe_fail()
        assert len(updates) <= 100, "HubSpot's batch update takes at most 100 inputs"
        self.writes.append(("batch_update", object_type, *updates))
        updated, missing, errors = [], [], []
        for object_id, properties in updates.items():
            stored = self.objects.get(object_type, {}).get(object_id)
            if stored is None:
                missing.append(object_id)
            elif object_id in self.refuse:
                errors.append(f"{object_id}: refused")
            else:
                self.put(object_type, object_id, **{**stored.properties, **properties})
                updated.append(object_id)
        return BatchUpdateResult(updated=updated, missing=missing, errors=errors)

    def create_note(self, deal_id: str, body_html: str, attachment_ids: Sequence[str] = ()) -> CrmObject:
        self._maybe_fail()
        self.writes.append(("note", deal_id, body_html))
        return self.put("notes", f"note-{len(self.writes)}", hs_note_body=body_html)

    def complete_callback(self, callback_id: str, output_fields: Mapping[str, Any]) -> None:
        self._maybe_fail()
        self.writes.append(("callback", callback_id, repr(dict(output_fields))))

    def _maybe_fail(self) -> None:
        if self.failure is not None:
            raise self.failure


def _passes(crm: CrmObject, rule: Mapping[str, Any]) -> bool:
    value = crm.prop(rule["propertyName"])
    operator = rule["operator"]
    if operator == "IN":
        return value in rule["values"]
    if operator == "EQ":
        return value == rule["value"]
    if operator == "GTE":
        return value is not None and _comparable(value) >= _comparable(rule["value"])
    raise AssertionError(f"the fake HubSpot search has no {operator} filter")


def _comparable(value: str) -> Any:
    """Dates as HubSpot compares them: ISO text and epoch milliseconds alike, as milliseconds."""
    if value.isdigit():
        return int(value)
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return value


def iso(epoch_ms: int) -> str:
    """Epoch milliseconds as HubSpot writes `hs_lastmodifieddate`."""
    stamp = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")

"""The trigger log: why a deal did or did not trigger, as the poller and the webhooks decided.

One item per decision in the portal's partition, under `TRIGGER#<dealId>#<recordId>` with a
time-ordered record id, so one deal's decisions read newest first with one query (no scans) and
expire on their own after `RETENTION_SECONDS`. The sync log asks by deal ("why did this deal (not)
trigger?"), which is the question people have; a portal-wide feed would need a second item per
decision or an index, and is left out on purpose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hubnox.errors import BadRequestError
from hubnox.store.runs import new_run_id
from hubnox.store.table import Clock, Table, trigger_record_key, trigger_records_prefix, ttl_at
from hubnox.sync.triggers import TriggerRecord

#: how long a decision is kept
RETENTION_SECONDS = 14 * 24 * 3600
#: a page of decisions, at most
PAGE_MAX = 100
_RECORD_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


@dataclass(frozen=True)
class TriggerPage:
    """One page of a deal's decisions, newest first, and the cursor of the next page (None at the end)."""

    records: list[dict[str, Any]]
    next_cursor: str | None


class TriggerLogStore:
    """Writes decisions and reads one deal's, newest first."""

    def __init__(self, table: Table, clock: Clock) -> None:
        self._table = table
        self._clock = clock

    def record(self, entry: TriggerRecord) -> None:
        """Keep one decision for `RETENTION_SECONDS`."""
        record_id = new_run_id(entry.at)
        item: dict[str, Any] = {
            **trigger_record_key(entry.portal_id, entry.deal_id, record_id),
            "record_id": record_id, "portal_id": entry.portal_id, "deal_id": entry.deal_id,
            "source": entry.source, "decision": entry.decision, "at": entry.at,
            "expires_at": ttl_at(entry.at + RETENTION_SECONDS),
        }
        for name in ("trigger_key", "stage_id", "run_id", "deal_name"):
            value = getattr(entry, name)
            if value is not None:
                item[name] = value
        self._table.put(item)

    def for_deal(self, portal_id: str, deal_id: str, *, limit: int = 25, cursor: str | None = None) -> TriggerPage:
        """The deal's decisions newest first, `limit` at a time; `cursor` is a page's `next_cursor`."""
        if cursor is not None and not _RECORD_ID.fullmatch(cursor):
            raise BadRequestError("cursor must be a cursor this list gave.", code="INVALID_CURSOR")
        prefix = trigger_records_prefix(deal_id)
        key = trigger_record_key(portal_id, deal_id, "")
        start = None if cursor is None else trigger_record_key(portal_id, deal_id, cursor)
        items, last = self._table.query_page(
            index=None, key_condition="#pk = :pk AND begins_with(#sk, :prefix)",
            names={"#pk": "pk", "#sk": "sk"}, values={":pk": key["pk"], ":prefix": prefix},
            forward=False, limit=max(1, min(limit, PAGE_MAX)), start_key=start)
        now = self._clock()
        records = [_public(item) for item in items if float(item.get("expires_at", now + 1)) > now]
        return TriggerPage(records, str(last["sk"])[len(prefix):] if last else None)


def _public(item: dict[str, Any]) -> dict[str, Any]:
    """A decision as the sync log shows it."""
    return {
        "at": float(item["at"]), "dealId": item["deal_id"], "source": item["source"],
        "decision": item["decision"], "triggerKey": item.get("trigger_key"), "stageId": item.get("stage_id"),
        "runId": item.get("run_id"), "dealName": item.get("deal_name"),
    }

"""The sync log's rules over runs, as plain functions: what a `RunFilter` matches, how names are searched,
which id bounds a date range is, and where a run's record lives in HubSpot.

`hubnox.store.runs` turns a filter into index queries with these rules, the in-memory fake applies
them run by run, and the settings API shows runs with them, so all three agree on what matches.
"""

from __future__ import annotations

import re
import unicodedata
from typing import get_args

from hubnox.errors import BadRequestError
from hubnox.records import KIND_TRIGGERS, Run, RunFilter, RunTrigger

#: the triggers the log filters on: how a run was started, or what kind of sync it is
LOG_TRIGGERS: tuple[str, ...] = (*get_args(RunTrigger), *KIND_TRIGGERS)
#: the longest search text (a deal name prefix is plenty at this length)
TEXT_MAX = 100
#: HubSpot's object type ids in record URLs
RECORD_TYPE_IDS = {"deal": "0-3", "company": "0-2", "contact": "0-1"}

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DIGITS = re.compile(r"[0-9]{1,20}")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def name_key(text: str | None) -> str:
    """`text` as the log searches names: lower case, accents folded (`Åsa Öberg` -> `asa oberg`),
    anything but letters and digits one space; at most `TEXT_MAX` characters."""
    if not text:
        return ""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return _NOT_WORD.sub(" ", plain).strip()[:TEXT_MAX]


def newest_first(run_id: str) -> str:
    """A string that sorts in the opposite order of run ids of the same length (the name index keeps
    `name#<this>` so that runs of one name list newest first)."""
    return "".join(chr(0x9E - ord(char)) if " " < char < "\x7e" else char for char in run_id)


def id_at(moment: float) -> str:
    """The smallest run id `new_run_id` can make in the millisecond of `moment` (epoch seconds): the
    inclusive lower bound of the ids of runs created from `moment` on."""
    return _ulid(max(0, round(moment * 1000)), 0)


def id_before(moment: float) -> str:
    """The largest run id `new_run_id` can make before the millisecond of `moment`: the inclusive
    upper bound of the ids of runs created before `moment`."""
    return _ulid(max(0, round(moment * 1000) - 1), (1 << 80) - 1)


def _ulid(millis: int, randomness: int) -> str:
    value = (millis << 80) | randomness
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def name_sort_key(record_name: str | None, run_id: str) -> str | None:
    """The name index's sort key of a run: its name key, then newest first (None for a run without a name)."""
    key = name_key(record_name)
    return f"{key}#{newest_first(run_id)}" if key else None


def is_id_text(text: str) -> bool:
    """Whether search text looks like a record id or a document number (digits) rather than a name."""
    return _DIGITS.fullmatch(text) is not None


def kind_of_trigger(trigger: str | None) -> str | None:
    """The run kind a pseudo-trigger (`product_sync`, `customer_sync`) stands for; None for a real trigger."""
    return KIND_TRIGGERS.get(trigger or "")


def document_type_of(run: Run) -> str | None:
    """The document type the run made (or was asked to make): its result's, else its request's."""
    made = run.result.get("document_type")
    return str(made) if made else run.document_type


def checked(run_filter: RunFilter) -> RunFilter:
    """`run_filter` with its text trimmed (None when blank); `BadRequestError` naming a wrong criterion."""
    if run_filter.trigger is not None and run_filter.trigger not in LOG_TRIGGERS:
        raise BadRequestError(f"trigger must be one of {', '.join(LOG_TRIGGERS)}.", code="INVALID_FILTER")
    if (run_filter.created_from is not None and run_filter.created_to is not None
            and run_filter.created_from >= run_filter.created_to):
        raise BadRequestError("from must be before to.", code="INVALID_FILTER")
    text = (run_filter.text or "").strip()
    if len(text) > TEXT_MAX:
        raise BadRequestError(f"The search text (q) is at most {TEXT_MAX} characters.", code="INVALID_FILTER")
    if text and not is_id_text(text) and not name_key(text):
        raise BadRequestError("Search by a deal or record name, a record id or a document number.",
                              code="INVALID_FILTER")
    return RunFilter(status=run_filter.status, trigger=run_filter.trigger, document_type=run_filter.document_type,
                     created_from=run_filter.created_from, created_to=run_filter.created_to, text=text or None)


def matches(run: Run, run_filter: RunFilter) -> bool:
    """Whether `run` is one the log shows for `run_filter` (already `checked`)."""
    f = run_filter
    if f.status is not None and run.status != f.status:
        return False
    if f.trigger is not None:
        kind = kind_of_trigger(f.trigger)
        if (run.kind != kind) if kind else (run.trigger != f.trigger):
            return False
    if f.document_type is not None and (run.kind != "create_document" or document_type_of(run) != f.document_type):
        return False
    if f.created_from is not None and run.run_id < id_at(f.created_from):
        return False
    if f.created_to is not None and run.run_id > id_before(f.created_to):
        return False
    if f.text:
        if is_id_text(f.text):
            return f.text in (run.object_id, str(run.result.get("document_number") or ""))
        return name_key(run.record_name).startswith(name_key(f.text))
    return True


def log_order(run: Run, run_filter: RunFilter) -> str:
    """Where `run` stands in the log, ascending: newest first, or by name then newest first for a name search."""
    if run_filter.text and not is_id_text(run_filter.text):
        return name_sort_key(run.record_name, run.run_id) or ""
    return newest_first(run.run_id)


def record_url(app_base: str, portal_id: str, object_type: str | None, object_id: str | None) -> str | None:
    """The record's page in HubSpot (`https://app.hubspot.com/contacts/<portal>/record/0-3/<deal id>`)."""
    type_id = RECORD_TYPE_IDS.get(object_type or "")
    if type_id is None or not object_id:
        return None
    return f"{app_base.rstrip('/')}/contacts/{portal_id}/record/{type_id}/{object_id}"

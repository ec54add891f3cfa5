"""The status sync fanned out: the poller's tick sends one status message per portal connected to Fortnox.

The status messages travel on the poll queue beside the poll messages, so the poller function that
polls HubSpot also brings Fortnox's changes back (`hubnox.sync.status_sync.StatusSync`), within the
same tick, without a queue or schedule of its own. The body names its kind,
`{"kind":"fortnox_status","portal_id":...}`, and a poll message never carries `kind`, so neither is
mistaken for the other.

`hint` names documents known to have changed, `(kind, number)` pairs: a continuation carries none, and
a change notification (Fortnox's WebSocket topics, see the README) would carry the documents it names.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from hubnox.sync.poll_fanout import send_per_portal

KIND = "fortnox_status"
#: documents one message may name; more than that are better found by the cursor's read
MAX_HINTS = 100
_HINT_KINDS = frozenset({"invoice", "order"})


@dataclass(frozen=True)
class StatusMessage:
    """One portal's status sync: a fresh one from the tick, a continuation, or documents named by a hint."""

    portal_id: str
    #: documents known to have changed, as (kind, number), read whatever the cursor says
    hint: tuple[tuple[str, str], ...] = ()

    def to_body(self) -> str:
        body: dict[str, Any] = {"kind": KIND, "portal_id": self.portal_id}
        if self.hint:
            body["hint"] = [list(pair) for pair in self.hint]
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def from_body(cls, body: str) -> StatusMessage:
        """Parse a message body; raises ValueError for one that is not a status message."""
        data = json.loads(body)
        if not isinstance(data, dict) or data.get("kind") != KIND:
            raise ValueError(f"a status message has kind {KIND!r}")
        portal_id = data.get("portal_id")
        if not isinstance(portal_id, str) or not portal_id:
            raise ValueError("a status message needs a portal_id")
        raw_hint = data.get("hint") or []
        if not isinstance(raw_hint, list) or len(raw_hint) > MAX_HINTS:
            raise ValueError(f"a status message's hint is a list of at most {MAX_HINTS} documents")
        hint: list[tuple[str, str]] = []
        for pair in raw_hint:
            if (not isinstance(pair, list) or len(pair) != 2 or pair[0] not in _HINT_KINDS
                    or not str(pair[1]).strip()):
                raise ValueError("a hinted document is [kind, number], kind invoice or order")
            hint.append((str(pair[0]), str(pair[1]).strip()))
        return cls(portal_id, tuple(hint))


def is_status_body(body: str) -> bool:
    """Whether a poll queue body is a status message (it names its kind); False for anything unreadable,
    which then fails as the poll message it is not."""
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("kind") == KIND


class StatusMessages(Protocol):
    """The poll queue, as the status dispatch sends to it."""

    def send_batch(self, messages: list[StatusMessage]) -> None:
        """Send up to 10 messages in one request; raises if any could not be sent."""


@dataclass
class StatusDispatchReport:
    """What one tick's status dispatch did."""

    portals: int = 0
    sent: int = 0
    not_connected: int = 0
    batches: int = 0


def dispatch_status(portals: Iterable[str], is_connected: Callable[[str], bool],
                    queue: StatusMessages) -> StatusDispatchReport:
    """Send one status message per portal with a working Fortnox connection, ten a request."""
    seen, sent, skipped, batches = send_per_portal(portals, is_connected, StatusMessage, queue.send_batch)
    return StatusDispatchReport(portals=seen, sent=sent, not_connected=skipped, batches=batches)

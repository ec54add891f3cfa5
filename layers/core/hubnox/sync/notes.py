"""The notes hubnox writes on a deal: what was made, or what went wrong and how to fix it.

Both are HubSpot note bodies (`hs_note_body`) rendered by the injected `NoteRenderer` (the worker
passes `hubnox.web.render.render`, over `web/templates/notes/`), autoescaped, using only the tags
HubSpot keeps in notes: <p> <br> <strong> <em> <a> <ul> <li>. Long lists are shortened so a note
stays well under HubSpot's 65,536 characters.

Fortnox publishes no deep-link form for its web app, so a note links to the web app itself
with the document's type and number beside the link (`fortnox_document_url`, the one place to
change once a link format is confirmed). Amounts read as `hubnox.money.format_money` writes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Literal

from hubnox.errors import ConnectionBrokenError, HubnoxError, TransientError
from hubnox.fortnox.errors import FortnoxError
from hubnox.fortnox.models import Invoice, Order
from hubnox.money import format_money
from hubnox.sync.model import CustomerResolution, SyncWarning, TotalsDifference
from hubnox.sync.ports import NoteRenderer

FORTNOX_APP_URL = "https://apps.fortnox.se"
#: items shown per list (warnings, differences) before "and N more"
MAX_LIST_ITEMS = 25
#: HubSpot's limit for a note body
NOTE_BODY_LIMIT = 65_536

_LABELS = {"invoice": "invoice", "order": "order"}
_ACTIONS = {"created": "new customer created in Fortnox", "matched": "existing Fortnox customer"}


def fortnox_document_url(document_type: Literal["invoice", "order"] | str, document_number: str,
                         app_url: str = FORTNOX_APP_URL) -> str:
    """The link for a document in the Fortnox web app: the web app itself, since Fortnox confirms
    no address for one document (the note names the document beside the link)."""
    del document_type, document_number  # kept for the day Fortnox documents a deep link
    return app_url.rstrip("/") + "/"


def money(value: Decimal | None, currency: str) -> str:
    """An amount for people, as everywhere in hubnox (`hubnox.money.format_money`)."""
    return format_money(value, currency)


def success_note(render: NoteRenderer, *, document: Invoice | Order, customer: CustomerResolution,
                 warnings: Sequence[SyncWarning] = (), differences: Sequence[TotalsDifference] = (),
                 document_url: str | None = None, pdf_attached: bool = True, already_existed: bool = False) -> str:
    """The note for a deal that became (or already had) a Fortnox document: type and number,
    customer, totals, differences and warnings, and a link to the document in Fortnox."""
    kind = "invoice" if isinstance(document, Invoice) else "order"
    number = document.document_number or ""
    currency = (document.currency or "SEK").upper()
    action = _ACTIONS.get(customer.action) or ("existing Fortnox customer, updated: "
                                                + ", ".join(customer.changed_fields or ["mapped fields"]))
    headline = ("already existed for this deal, so no new document was made." if already_existed
                else "was created as a draft from this deal.")
    context = {
        "document_label": _LABELS[kind], "document_number": number, "headline": headline,
        "customer_number": customer.customer_number, "customer_name": customer.customer_name,
        "customer_action": action,
        "net": money(document.net, currency), "vat": money(document.total_vat, currency),
        "rounding": money(document.round_off, currency) if document.round_off else None,
        "total": money(document.total, currency),
        "document_url": document_url or fortnox_document_url(kind, number),
        "pdf_attached": pdf_attached,
    }
    return _fitted(render, "notes/success.html", context, differences=[d.explanation for d in differences],
                   warnings=_unique(warning.message for warning in warnings))


def failure_note(render: NoteRenderer, *, error: BaseException, replay_url: str,
                 document_type: str | None = "invoice", action: str | None = None, run_id: str | None = None,
                 warnings: Sequence[SyncWarning] = ()) -> str:
    """The note for a failed run: what went wrong in plain words, Fortnox's code and message
    quoted (with hubnox's explanation of known codes), how to fix it, and the Replay link.

    `action` names what failed ("create the Fortnox invoice for this deal" by default).
    """
    what, fix = _explain(error)
    fortnox = error if isinstance(error, FortnoxError) else None
    context = {
        "action": action or _default_action(document_type), "what": what, "fix": fix,
        "fortnox_code": fortnox.fortnox_code if fortnox else None,
        "fortnox_message": fortnox.fortnox_message if fortnox else None,
        "meaning": fortnox.explanation.meaning if fortnox and fortnox.explanation else None,
        "replay_url": replay_url, "run_id": run_id,
    }
    return _fitted(render, "notes/failure.html", context, warnings=_unique(w.message for w in warnings))


def _default_action(document_type: str | None) -> str:
    if document_type in _LABELS:
        return f"create the Fortnox {_LABELS[document_type]} for this deal"
    return "finish this run"


def _explain(error: BaseException) -> tuple[str, str]:
    """What happened and how to fix it, in plain words, for each kind of error."""
    if isinstance(error, FortnoxError):
        what = f"Fortnox refused the request (HTTP {error.status})."
        fix = error.explanation.fix if error.explanation else (error.hint or "")
        return what, fix or "Check the data on the deal and the hubnox settings, then replay."
    if isinstance(error, ConnectionBrokenError):
        return error.message, error.hint or f"Reconnect {error.system} from the hubnox settings page."
    if isinstance(error, TransientError):
        return (f"Fortnox or HubSpot kept failing after several tries: {error.message}",
                error.hint or "This is usually temporary. Replay in a few minutes; hubnox will not make a "
                "second document for the deal.")
    if isinstance(error, HubnoxError):
        return error.message, error.hint or "Check the deal and the hubnox settings, then replay."
    return ("hubnox ran into an unexpected problem.",
            "Replay the run; if it fails again, report it to whoever runs hubnox, with the run id.")


def _fitted(render: NoteRenderer, template: str, context: Mapping[str, object], **lists: list[str]) -> str:
    """The rendered note, lists shortened until it fits HubSpot's note body."""
    limit = MAX_LIST_ITEMS
    while True:
        shown = {name: _shorten(items, limit) for name, items in lists.items()}
        body = render(template, **context, **shown)
        if len(body) <= NOTE_BODY_LIMIT or limit == 0:
            return body[:NOTE_BODY_LIMIT]
        limit //= 2


def _shorten(items: list[str], limit: int) -> list[str]:
    if len(items) <= limit:
        return items
    return [*items[:limit], f"… and {len(items) - limit} more."]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))

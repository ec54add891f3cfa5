"""Fortnox's error answers, read in every shape Fortnox uses and explained in plain English.

Fortnox answers `{"ErrorInformation": {"error": 1, "message": "...", "code": 2000423}}` (key case
varies between endpoints: `Error`/`Message`/`Code` too), `{"error", "error_description"}` from
its OAuth endpoints, and sometimes a bare `{"message": ...}`. Messages are often Swedish; the
`EXPLANATIONS` table turns the common codes into what happened and how to fix it. The errors are
plain values; the HTTP client (`hubnox.fortnox.client.error_from_response`) makes them from answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hubnox.errors import NotFoundError, UserFixableError

SYSTEM = "Fortnox"


@dataclass(frozen=True)
class Explanation:
    """What a Fortnox error code means and what the user can do about it."""

    meaning: str
    fix: str


_RECONNECT = "Reconnect Fortnox from the hubnox settings page."
_REPORT = "This is a hubnox problem; report it with the run id."

EXPLANATIONS: dict[int, Explanation] = {
    1000003: Explanation("Fortnox had an internal error.",
                         "Try again later; if it keeps happening, contact Fortnox support."),
    1000030: Explanation("Fortnox could not answer in the format hubnox asked for.",
                         _REPORT),
    1000031: Explanation("Fortnox did not accept the format of the data hubnox sent.",
                         _REPORT),
    2000106: Explanation("A value must contain only letters and digits.",
                         "Remove spaces and special characters, e.g. from the product's SKU or the "
                         "customer number, and run again."),
    2000108: Explanation("A value must be a number.",
                         "Check prices, quantities and discounts on the deal's line items."),
    2000134: Explanation("A value must be true or false.", _REPORT),
    2000310: Explanation("Fortnox did not accept hubnox's login.", _RECONNECT),
    2000311: Explanation("Fortnox got no valid access token.", _RECONNECT),
    2000359: Explanation("A text contains characters Fortnox cannot store.",
                         "Remove emoji and unusual symbols from names, addresses and line-item texts."),
    2000423: Explanation("Fortnox cannot find the bookkeeping account.",
                         "Check the sales account on the article or customer in Fortnox, or the "
                         "account mapping in hubnox settings, against the chart of accounts."),
    2000428: Explanation("Fortnox has no article with the number on a row.",
                         "Create the article in Fortnox (article number = the product's SKU), or choose "
                         "the placeholder or create article policy in hubnox settings, then replay."),
    2000433: Explanation("Fortnox has no customer with that customer number.",
                         "Check the customer number on the HubSpot company or contact (or clear it so "
                         "hubnox matches the customer again), then replay."),
    2000588: Explanation("A parameter hubnox sent is not valid.",
                         "Check the hubnox settings (terms of payment, price list, print template); "
                         "if they look right, report it with the run id."),
    2000637: Explanation("The customer number is already used in Fortnox (also by deleted customers).",
                         "Let Fortnox number new customers, or pick a customer number not used before."),
    2000663: Explanation("The Fortnox connection lacks the permission (scope) for this.",
                         "Reconnect Fortnox and approve all permissions hubnox asks for."),
    2000729: Explanation("Fortnox found no valid identifier in the request.",
                         "Check that the customer, article or document number exists in Fortnox."),
    2001101: Explanation("The Fortnox company has no active licence for this part of Fortnox.",
                         "Activate the needed licence in Fortnox (invoicing for invoices, order for "
                         "orders), then run again."),
    2001103: Explanation("The Fortnox company has no licence for integrations (the API).",
                         "Activate the integration licence in Fortnox, then run again."),
    2001304: Explanation("Fortnox cannot find an account: the customer's preferred accounts are not set.",
                         "In Fortnox, set the accounts under Settings > Bookkeeping, or on the customer."),
    2001392: Explanation("Fortnox received an empty or broken request.",
                         _REPORT),
    2001399: Explanation("Fortnox does not know a field hubnox sent.",
                         _REPORT),
    2001740: Explanation("Fortnox could not read the request (XML).",
                         _REPORT),
    2002115: Explanation("Fortnox could not read the request (JSON syntax).",
                         _REPORT),
    # Not yet confirmed from Fortnox itself: the codes the local Fortnox simulator answers with.
    2000363: Explanation("Fortnox does not accept the organisation number.",
                         "Correct the organisation number on the HubSpot company (10 digits, e.g. "
                         "556677-8899), then replay."),
    2000430: Explanation("Fortnox has no price list with that code.",
                         "Pick an existing price list in hubnox settings (customer defaults), then replay."),
    2000440: Explanation("The currency is not set up in Fortnox.",
                         "Add the deal's currency under Settings > Currencies in Fortnox, or change the "
                         "deal's currency in HubSpot, then replay."),
    2000441: Explanation("Fortnox has no terms of payment with that code.",
                         "Pick existing terms of payment in hubnox settings (customer defaults), then replay."),
    2000442: Explanation("Fortnox has no print template with that code for this kind of document.",
                         "Pick a print template Fortnox has for this document type: in the workflow action's "
                         "Print template field (then enroll the deal again), or in hubnox settings (customer "
                         "defaults, then replay)."),
    2000756: Explanation("Fortnox does not accept the VAT rate.",
                         "Use a VAT rate of 25, 12, 6 or 0 % on the line item or the article, then replay."),
    2004167: Explanation("A custom VAT rate needs an account because EasyVat is switched on in Fortnox.",
                         "Use a standard VAT rate (25, 12, 6 or 0 %) on the line items, or set the "
                         "sales account for that rate in hubnox settings."),
}

#: codes meaning the stored connection itself no longer works
BROKEN_CONNECTION_CODES = frozenset({2000310, 2000311})


class FortnoxError(UserFixableError):
    """Fortnox refused a request; carries its HTTP status, Fortnox code and (Swedish) message."""

    code = "FORTNOX"

    def __init__(self, status: int, fortnox_code: int | None, fortnox_message: str | None) -> None:
        explanation = EXPLANATIONS.get(fortnox_code) if fortnox_code is not None else None
        what = explanation.meaning if explanation else "Fortnox refused the request."
        said = f" Fortnox said: {fortnox_message!r}" if fortnox_message else ""
        number = f" (code {fortnox_code})" if fortnox_code is not None else f" (HTTP {status})"
        super().__init__(
            f"{what}{said}{number}",
            code=f"FORTNOX_{fortnox_code}" if fortnox_code is not None else f"FORTNOX_HTTP_{status}",
            hint=explanation.fix if explanation else _default_fix(status),
        )
        self.status = status
        self.fortnox_code = fortnox_code
        self.fortnox_message = fortnox_message
        self.explanation = explanation


class FortnoxNotFoundError(FortnoxError, NotFoundError):
    """Fortnox has no record at the requested number."""


def _default_fix(status: int) -> str:
    if status == 403:
        return "Reconnect Fortnox and approve all permissions hubnox asks for, and check the licences."
    if status == 404:
        return "Check that the number exists in Fortnox."
    return "Check the data on the deal and the hubnox settings, then run again."


def _lower_keys(value: Any) -> dict[str, Any]:
    return {str(key).lower(): item for key, item in value.items()} if isinstance(value, Mapping) else {}


def parse_error_body(body: Any) -> tuple[int | None, str | None]:
    """The Fortnox code and message from any of Fortnox's error shapes (keys in any case)."""
    top = _lower_keys(body)
    info = _lower_keys(top.get("errorinformation"))
    if info:
        return _as_int(info.get("code")), _as_text(info.get("message"))
    if "error" in top and not isinstance(top["error"], Mapping):
        description = _as_text(top.get("error_description"))
        return None, description or _as_text(top.get("error"))
    return _as_int(top.get("code")), _as_text(top.get("message"))


def _as_int(value: Any) -> int | None:
    try:
        return int(str(value).strip()) if value is not None and str(value).strip() else None
    except ValueError:
        return None


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def explain(code: int) -> Explanation | None:
    """The plain-English explanation of a Fortnox error code, if hubnox knows it."""
    return EXPLANATIONS.get(code)

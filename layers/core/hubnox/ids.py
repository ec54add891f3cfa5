"""The shapes of the ids hubnox takes from outside, checked in one place before any reaches a key or a URL.

HubSpot ids (portals, records, apps, users) are positive 64-bit integers written in ASCII digits;
run ids are hubnox's ULIDs (or uuids); a workflow `callbackId` is HubSpot's opaque token, so only
bounded printable ASCII is accepted; Fortnox numbers follow Fortnox's own character rules. Each
reader answers the id in its one canonical spelling, or raises `BadRequestError` saying what is
wrong, so a malformed id becomes a 4xx with a message and never a DynamoDB key past its limits
or a path segment such as `..`.
"""

from __future__ import annotations

import re
from typing import Any

from hubnox.errors import BadRequestError

#: a positive 64-bit integer has at most 20 digits
HUBSPOT_ID_MAX_DIGITS = 20
#: HubSpot's callbackIds are short (`ap-102670506-56776413549-7-0`); anything this long is not one
CALLBACK_ID_MAX_LENGTH = 256

_ASCII_DIGITS = re.compile(rf"[0-9]{{1,{HUBSPOT_ID_MAX_DIGITS}}}")
#: ULID-shaped (26 ASCII letters and digits, as `new_run_id` makes them) or a canonical uuid
_RUN_ID = re.compile(r"[0-9A-Z]{26}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: printable ASCII without spaces
_TOKEN = re.compile(rf"[\x21-\x7e]{{1,{CALLBACK_ID_MAX_LENGTH}}}")
#: Fortnox customer numbers: letters, digits and - + / _ (Fortnox answers 2000106 otherwise)
CUSTOMER_NUMBER_PATTERN = re.compile(r"[A-Za-z0-9+/_\-–]{1,1024}")
#: Fortnox article numbers hubnox creates: letters, digits and - + / _ . (at most 50)
ARTICLE_NUMBER_PATTERN = re.compile(r"[A-Za-z0-9+/_.\-]{1,50}")
#: Fortnox document numbers (invoices, orders) are whole numbers
_DOCUMENT_NUMBER = re.compile(r"[0-9]{1,20}")


def hubspot_id_or_none(value: Any) -> str | None:
    """A HubSpot id (a positive integer, or its ASCII digits) in canonical form; None for anything else.

    Booleans, zero, negative numbers, other scripts' digits ('١٢٣', '²') and more than 20 digits are no id.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        text = str(value) if 0 < value < 10**HUBSPOT_ID_MAX_DIGITS else ""
    elif isinstance(value, str):
        text = value.strip()
    else:
        return None
    if not _ASCII_DIGITS.fullmatch(text) or int(text) == 0:
        return None
    return str(int(text))


def hubspot_id(value: Any, what: str, *, code: str = "INVALID_ID") -> str:
    """`hubspot_id_or_none`, or `BadRequestError` naming `what` (e.g. "portalId") when it is no id."""
    found = hubspot_id_or_none(value)
    if found is None:
        raise BadRequestError(f"{what} must be a HubSpot id: a positive whole number of at most "
                              f"{HUBSPOT_ID_MAX_DIGITS} digits.", code=code)
    return found


def is_run_id(value: Any) -> bool:
    """True for a run id as hubnox makes them (a ULID, or a uuid)."""
    return isinstance(value, str) and _RUN_ID.fullmatch(value) is not None


def callback_id(value: Any) -> str:
    """A workflow execution's `callbackId` (surrounding spaces dropped); `BadRequestError` unless it
    is printable ASCII of at most 256 characters."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise BadRequestError("The execution has no callbackId.", code="MISSING_FIELD")
    if not _TOKEN.fullmatch(text):
        raise BadRequestError(f"The execution's callbackId must be printable ASCII of at most "
                              f"{CALLBACK_ID_MAX_LENGTH} characters.", code="INVALID_FIELD")
    return text


def bounded_text(value: Any, what: str, *, max_length: int = 256) -> str | None:
    """Free text from a request (a user's e-mail, say), stripped; None when empty; `BadRequestError`
    when longer than `max_length` or holding control characters."""
    text = str(value).strip() if value is not None else ""
    if len(text) > max_length or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise BadRequestError(f"{what} must be text of at most {max_length} characters.", code="INVALID")
    return text or None


def _only_dots(text: str) -> bool:
    return text.strip(".") == ""


def fortnox_customer_number(value: Any) -> str:
    """A Fortnox customer number by Fortnox's rules; `BadRequestError` for anything else."""
    text = str(value)
    if not CUSTOMER_NUMBER_PATTERN.fullmatch(text) or text != text.strip():
        raise BadRequestError(f"{text[:40]!r} is not a Fortnox customer number: use letters, digits and - + / _ "
                              "(at most 1024).", code="INVALID_CUSTOMER_NUMBER")
    return text


def fortnox_document_number(value: Any) -> str:
    """A Fortnox invoice or order number (ASCII digits); `BadRequestError` for anything else."""
    text = str(value)
    if not _DOCUMENT_NUMBER.fullmatch(text):
        raise BadRequestError(f"{text[:40]!r} is not a Fortnox document number.", code="INVALID_DOCUMENT_NUMBER")
    return text


def path_segment_text(value: Any) -> str:
    """Any other value for one URL path segment (a price list code, say): `BadRequestError` when it is
    empty or only dots, which a URL would read as this folder or the one above."""
    text = str(value)
    if _only_dots(text):
        raise BadRequestError(f"{text[:40]!r} cannot name a record.", code="INVALID_ID")
    return text

"""The Fortnox simulator's errors, in Fortnox's shapes: ErrorInformation with Fortnox's codes on
the API, {"error", "error_description"} on the auth host, {"message": "unauthorized"} for a bad token.

`ERRORS` holds every status, code and message the API answers; its `confirmed` flag says which codes
Fortnox documents and which are plausible stand-ins to correct when real responses are seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.common import SandboxError


@dataclass(frozen=True)
class ErrorCode:
    """One Fortnox error: HTTP status, code and (Swedish) message template.

    `confirmed` is True where Fortnox documents the code for this case (../shared/reference/
    fortnox.md §4); the message is then Fortnox's where the reference quotes it, else a Swedish
    paraphrase. False marks a plausible stand-in, to be corrected from real responses. Statuses
    are Fortnox's documented ones except two decisions: a missing licence answers 400 and a scope
    the token lacks 403.
    """

    status: int
    code: int
    message: str
    confirmed: bool = False


ERRORS: dict[str, ErrorCode] = {
    "SYSTEM_EXCEPTION": ErrorCode(500, 1000003, "Systemfel", True),
    "INVALID_CONTENT_TYPE": ErrorCode(400, 1000031, "Ogiltig content-type", True),
    "MUST_BE_ALPHANUMERIC": ErrorCode(400, 2000106, "Värdet måste vara alfanumeriskt ({field})", True),
    "MUST_BE_NUMERIC": ErrorCode(400, 2000108, "Värdet måste vara numeriskt ({field})", True),
    "MUST_BE_BOOLEAN": ErrorCode(400, 2000134, "Värdet måste vara av typen boolean ({field})", True),
    "INVALID_PARAMETER": ErrorCode(400, 2000588, "Ogiltig parameter: {parameter}", True),
    "CUSTOMER_NUMBER_IN_USE": ErrorCode(
        400, 2000637, "Kundnummer {number} används redan. Numret kan tillhöra en borttagen kund.", True
    ),
    "NO_VALID_IDENTIFIER": ErrorCode(404, 2000729, "Ingen giltig identifierare", True),
    "NO_LICENCE": ErrorCode(400, 2001101, "Det finns ingen aktiv licens för önskat scope", True),
    "SCOPE_MISSING": ErrorCode(403, 2000663, "Har inte behörighet för scope ({scope})", False),
    "EMPTY_BODY": ErrorCode(400, 2001392, "Tom eller felaktig body", True),
    "INVALID_FIELD": ErrorCode(400, 2001399, "Ogiltigt fältnamn: {field}", True),
    "JSON_SYNTAX": ErrorCode(400, 2002115, "Felaktig JSON-syntax", True),
    "CUSTOMER_NOT_FOUND": ErrorCode(404, 2000433, "Kan inte hitta kunden ({number})"),
    "ARTICLE_NOT_FOUND": ErrorCode(404, 2000428, "Kan inte hitta artikeln ({number})"),
    "INVOICE_NOT_FOUND": ErrorCode(404, 2000434, "Kan inte hitta fakturan ({number})"),
    "ORDER_NOT_FOUND": ErrorCode(404, 2000435, "Kan inte hitta ordern ({number})"),
    "PRICE_LIST_NOT_FOUND": ErrorCode(404, 2000430, "Kan inte hitta prislistan ({code})"),
    "PRICE_NOT_FOUND": ErrorCode(404, 2000431, "Kan inte hitta priset"),
    "CURRENCY_NOT_FOUND": ErrorCode(404, 2000440, "Kan inte hitta valutan ({code})"),
    "TERMS_NOT_FOUND": ErrorCode(404, 2000441, "Kan inte hitta betalningsvillkoret ({code})"),
    "WAY_OF_DELIVERY_NOT_FOUND": ErrorCode(404, 2000443, "Kan inte hitta leveranssättet ({code})"),
    "PRINT_TEMPLATE_NOT_FOUND": ErrorCode(400, 2000442, "Kan inte hitta utskriftsmallen ({code})"),
    "VAT_RATE_INVALID": ErrorCode(400, 2000756, "Ogiltig momssats ({vat})"),
    "FIELD_TOO_LONG": ErrorCode(400, 2000312, "{field} får vara högst {limit} tecken"),
    "FIELD_REQUIRED": ErrorCode(400, 2000313, "{field} måste anges"),
    "INVALID_VALUE": ErrorCode(400, 2000360, "Ogiltigt värde för {field}"),
    "INVALID_DATE": ErrorCode(400, 2000361, "Ogiltigt datum ({field})"),
    "INVALID_EMAIL": ErrorCode(400, 2000362, "Ogiltig e-postadress ({field})"),
    "INVALID_ORGANISATION_NUMBER": ErrorCode(400, 2000363, "Ogiltigt organisationsnummer"),
    "ARTICLE_NUMBER_IN_USE": ErrorCode(400, 2000013, "Artikelnummer {number} används redan"),
    "ARTICLE_NUMBER_IMMUTABLE": ErrorCode(400, 2000014, "Artikelnumret kan inte ändras"),
    "DOCUMENT_NUMBER_IN_USE": ErrorCode(400, 2000015, "Dokumentnummer {number} används redan"),
    "DOCUMENT_BOOKED": ErrorCode(400, 2000366, "Fakturan är bokförd och kan inte ändras"),
    "ALREADY_BOOKED": ErrorCode(400, 2000367, "Fakturan är redan bokförd"),
    "DOCUMENT_CANCELLED": ErrorCode(400, 2000368, "Dokumentet är makulerat"),
    "CANNOT_CANCEL_BOOKED": ErrorCode(400, 2000369, "En bokförd faktura kan inte makuleras, kreditera den"),
    "ORDER_INVOICED": ErrorCode(400, 2000370, "Ordern är redan fakturerad"),
    "ROW_NOT_FOUND": ErrorCode(400, 2000371, "Raden med RowId {row_id} finns inte"),
    "ALREADY_EXISTS": ErrorCode(400, 2000372, "{what} {code} finns redan"),
    "CUSTOMER_IN_USE": ErrorCode(400, 2000373, "Kunden {number} används i dokument och kan inte tas bort"),
    "NO_EMAIL_ADDRESS": ErrorCode(400, 2000374, "E-postadress till mottagaren saknas"),
    "PAYMENT_NEEDS_BOOKED_INVOICE": ErrorCode(
        400, 2000375, "Fakturan {number} måste vara bokförd för att en inbetalning ska kunna registreras"
    ),
    "PAYMENT_NOT_FOUND": ErrorCode(404, 2000376, "Kan inte hitta inbetalningen ({number})"),
    "PAYMENT_BOOKED": ErrorCode(400, 2000377, "Inbetalningen {number} är bokförd och kan inte ändras"),
    "PAYMENT_ALREADY_BOOKED": ErrorCode(400, 2000378, "Inbetalningen {number} är redan bokförd"),
    "CREDIT_NEEDS_BOOKED_INVOICE": ErrorCode(
        400, 2000379, "Fakturan är inte bokförd och kan inte krediteras, makulera den"
    ),
    "CANNOT_CREDIT_CREDIT_INVOICE": ErrorCode(400, 2000380, "En kreditfaktura kan inte krediteras"),
    "ALREADY_CREDITED": ErrorCode(400, 2000381, "Fakturan är redan krediterad (kreditfaktura {number})"),
    "METHOD_NOT_ALLOWED": ErrorCode(405, 2000588, "Metoden stöds inte här"),
}


def error_information(message: str, code: int) -> dict[str, Any]:
    """The body Fortnox answers errors with (lower-case keys, as real responses have them)."""
    return {"ErrorInformation": {"error": 1, "message": message, "code": code}}


class FortnoxError(SandboxError):
    """An API error answered as ErrorInformation with the code from `ERRORS[key]`."""

    def __init__(self, key: str, *, status: int | None = None, **params: Any) -> None:
        spec = ERRORS[key]
        super().__init__(status or spec.status, spec.message.format(**params))
        self.key = key
        self.code = spec.code


class OAuthError(SandboxError):
    """An error of the auth host, answered as {"error", "error_description"}."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(status, description)
        self.error = error


class Unauthorized(SandboxError):
    """A missing, unknown, expired or revoked access token on /3/: 401 {"message":"unauthorized"}."""

    def __init__(self) -> None:
        super().__init__(401, "unauthorized")

"""After the create: Fortnox's computed amounts against what the deal's line items say.

Each line's rows must total the line's HubSpot amount and the document's `Net` their sum; any
difference is reported, never corrected silently. VAT and rounding are explained rather than
judged: Fortnox computes VAT on each VAT rate's total and rounds once (per-line rounding can
differ by an öre), rounds SEK totals to whole kronor (`RoundOff`), and may add the customer's
freight or administration fee.
"""

from __future__ import annotations

from decimal import Decimal

from hubnox.fortnox.models import Invoice, InvoiceRow, Order, OrderRow
from hubnox.money import format_money, format_signed_money
from hubnox.sync.model import DocumentDraft, ExpectedLine, TotalsDifference, cents

HUNDRED = Decimal(100)


def check_totals(draft: DocumentDraft, created: Invoice | Order) -> list[TotalsDifference]:
    """Every difference between the created document's amounts and the deal's line items, each
    with a plain-words explanation for the note; an empty list when everything agrees."""
    rows: list[InvoiceRow] | list[OrderRow] = (created.invoice_rows if isinstance(created, Invoice)
                                               else created.order_rows)
    differences: list[TotalsDifference] = []
    currency = (created.currency or draft.currency).upper()
    if currency != draft.currency:
        differences.append(TotalsDifference(
            kind="currency", subject="Currency", expected=draft.currency, actual=currency,
            explanation=f"The deal is in {draft.currency} but Fortnox made the document in {currency}."))
    sent = sum(len(line.row_indexes) for line in draft.expected_lines)
    if len(rows) != sent:
        differences.append(TotalsDifference(
            kind="rows", subject="Rows", expected=str(sent), actual=str(len(rows)),
            explanation=f"hubnox sent {sent} rows but the Fortnox document has {len(rows)}."))
    else:
        differences += _row_differences(draft.expected_lines, rows, currency)
    net_ok = _net_difference(draft, created, currency, differences)
    if net_ok and len(rows) == sent:
        differences += _vat_difference(draft.expected_lines, rows, created, currency)
    differences += _fees(created, currency)
    if created.round_off:
        differences.append(TotalsDifference(
            kind="rounding", subject="Rounding", expected=Decimal(0), actual=created.round_off,
            explanation=f"Fortnox rounded the total to whole {_unit(currency)} (öresavrundning) by "
            f"{format_signed_money(created.round_off, currency)}; the total to pay is "
            f"{format_money(created.total, currency)}."))
    return differences


def _row_differences(lines: list[ExpectedLine], rows: list[InvoiceRow] | list[OrderRow], currency: str,
                     ) -> list[TotalsDifference]:
    differences = []
    for line in lines:
        totals = [rows[index].total for index in line.row_indexes]
        actual = sum((total or Decimal(0) for total in totals), Decimal(0))
        if actual != line.amount:
            differences.append(TotalsDifference(
                kind="row", subject=line.name, expected=line.amount, actual=actual,
                explanation=f"Fortnox's rows for '{line.name}' come to {format_money(actual, currency)}; the line "
                f"item's amount in HubSpot is {format_money(line.amount, currency)} "
                f"({format_signed_money(actual - line.amount, currency)})."))
    return differences


def _net_difference(draft: DocumentDraft, created: Invoice | Order, currency: str,
                    differences: list[TotalsDifference]) -> bool:
    if created.net is None or created.net == draft.expected_net:
        return True
    differences.append(TotalsDifference(
        kind="net", subject="Net", expected=draft.expected_net, actual=created.net,
        explanation=f"The document's net is {format_money(created.net, currency)}; the deal's line items add up "
        f"to {format_money(draft.expected_net, currency)} "
        f"({format_signed_money(created.net - draft.expected_net, currency)})."))
    return False


def _vat_difference(lines: list[ExpectedLine], rows: list[InvoiceRow] | list[OrderRow], created: Invoice | Order,
                    currency: str) -> list[TotalsDifference]:
    """Fortnox's VAT against the line items' VAT rounded line by line, as HubSpot rounds it."""
    if created.total_vat is None:
        return []
    per_line = Decimal(0)
    for line in lines:
        rate = line.vat
        if rate is None and line.row_indexes:
            row_vat = rows[line.row_indexes[0]].vat
            rate = Decimal(row_vat) if row_vat is not None else None
        if rate is None:
            return []
        per_line += cents(line.amount * rate / HUNDRED)
    fees_vat = (created.freight_vat or Decimal(0)) + (created.administration_fee_vat or Decimal(0))
    actual = created.total_vat - fees_vat
    if actual == per_line:
        return []
    return [TotalsDifference(
        kind="vat", subject="VAT", expected=per_line, actual=actual,
        explanation=f"Fortnox computes VAT on the total of each VAT rate and rounds once, giving "
        f"{format_money(actual, currency)}; the line items' VAT rounded line by line comes to "
        f"{format_money(per_line, currency)} ({format_signed_money(actual - per_line, currency)}).")]


def _fees(created: Invoice | Order, currency: str) -> list[TotalsDifference]:
    found = []
    for amount, name in ((created.freight, "freight"), (created.administration_fee, "administration fee")):
        if amount:
            found.append(TotalsDifference(
                kind="fees", subject=name.capitalize(), expected=Decimal(0), actual=amount,
                explanation=f"Fortnox added a {name} of {format_money(amount, currency)} (a default on the customer in "
                "Fortnox), which is not on the deal."))
    return found


def _unit(currency: str) -> str:
    return "kronor" if currency == "SEK" else "units"

"""The notes on the deal: what was made, or what went wrong, how to fix it, and the Replay link."""

from __future__ import annotations

import re
from decimal import Decimal
from html.parser import HTMLParser

from hubnox.errors import ConnectionBrokenError, TransientError, UserFixableError
from hubnox.fortnox.errors import FortnoxError
from hubnox.fortnox.models import FortnoxCustomer, Invoice, InvoiceRow, Order
from hubnox.money import format_money
from hubnox.sync.model import CustomerResolution, SyncWarning, TotalsDifference
from hubnox.sync.notes import NOTE_BODY_LIMIT, failure_note, fortnox_document_url, money, success_note
from hubnox.web.render import render

D = Decimal
REPLAY = "https://hubnox.example.com/replay/run-1?t=abc&x=1"
ALLOWED_TAGS = {"p", "br", "strong", "em", "a", "ul", "li"}


class Tags(HTMLParser):
    def __init__(self, body: str) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.links: list[str] = []
        self.text: list[str] = []
        self.feed(body)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.text.append(" ")
        self.links += [value or "" for name, value in attrs if name == "href"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def plain(self) -> str:
        return " ".join("".join(self.text).split())


def invoice(**fields: object) -> Invoice:
    base: dict[str, object] = {
        "document_number": "1001", "customer_number": "17", "currency": "SEK", "net": D("1499.97"),
        "total_vat": D("374.99"), "round_off": D("0.04"), "total": D(1875),
        "invoice_rows": [InvoiceRow(article_number="W-1", delivered_quantity=D(3), price=D("499.99"))]}
    return Invoice.model_validate({**base, **fields})


def resolution(action: str = "created", name: str = "Acme AB", changed: list[str] | None = None) -> CustomerResolution:
    return CustomerResolution(customer_number="17", customer_name=name, action=action,
                              source="company", source_id="301", customer=FortnoxCustomer(name=name),
                              changed_fields=changed or [])


def test_a_success_note_names_the_document_customer_totals_and_links_to_fortnox() -> None:
    body = success_note(render, document=invoice(), customer=resolution())
    parsed = Tags(body)
    assert parsed.tags <= ALLOWED_TAGS
    assert "Fortnox invoice 1001 was created as a draft from this deal." in parsed.plain
    assert "Customer: 17 Acme AB (new customer created in Fortnox)" in parsed.plain
    assert "Net: 1 499,97 kr VAT: 374,99 kr Rounding: 0,04 kr Total: 1 875,00 kr" in parsed.plain
    assert "The PDF is attached. Find invoice 1001 in Fortnox." in parsed.plain
    assert parsed.links == [fortnox_document_url("invoice", "1001")]


def test_a_success_note_lists_differences_and_warnings() -> None:
    differences = [TotalsDifference(kind="row", subject="Kaffe", expected=D("10.11"), actual=D("10.12"),
                                    explanation="Fortnox's rows for 'Kaffe' come to 10.12 SEK.")]
    warnings = [SyncWarning(code="DISCOUNT_IN_PRICE", message="HubSpot's 15 % discount on 'Kaffe' is folded."),
                SyncWarning(code="DISCOUNT_IN_PRICE", message="HubSpot's 15 % discount on 'Kaffe' is folded.")]
    body = success_note(render, document=invoice(), customer=resolution("updated", changed=["Address1", "City"]),
                        differences=differences, warnings=warnings)
    plain = Tags(body).plain
    assert "existing Fortnox customer, updated: Address1, City" in plain
    assert "About the totals Fortnox's rows for 'Kaffe' come to 10.12 SEK." in plain
    assert plain.count("is folded") == 1


def test_an_order_that_already_existed_is_reported_without_claiming_a_new_one() -> None:
    order = Order(document_number="55", customer_number="17", currency="EUR", net=D(100), total_vat=D(25),
                  round_off=D(0), total=D(125))
    body = success_note(render, document=order, customer=resolution("matched"), already_existed=True,
                        pdf_attached=False, document_url="http://localhost:8002/orders/55")
    parsed = Tags(body)
    assert "Fortnox order 55 already existed for this deal, so no new document was made." in parsed.plain
    assert "Rounding" not in parsed.plain and "PDF" not in parsed.plain
    assert parsed.links == ["http://localhost:8002/orders/55"]


def test_hubspot_and_fortnox_texts_are_escaped_in_notes() -> None:
    body = success_note(render, document=invoice(), customer=resolution(name="<script>alert(1)</script> & Co"),
                        warnings=[SyncWarning(code="X", message='<img src=x onerror="1">')])
    assert "<script>" not in body and "&lt;script&gt;" in body and "&amp; Co" in body
    assert "<img" not in body
    error = FortnoxError(400, 2000359, "Ogiltiga tecken <b>")
    failed = failure_note(render, error=error, replay_url=REPLAY)
    assert "<b>" not in failed and "&lt;b&gt;" in failed
    assert 'href="https://hubnox.example.com/replay/run-1?t=abc&amp;x=1"' in failed


def test_a_failure_note_quotes_fortnoxs_swedish_message_and_code_and_explains_them() -> None:
    error = FortnoxError(400, 2000428, "Kan inte hitta artikeln (W-9)")
    parsed = Tags(failure_note(render, error=error, replay_url=REPLAY, run_id="run-1"))
    assert parsed.tags <= ALLOWED_TAGS
    assert "hubnox could not create the Fortnox invoice for this deal." in parsed.plain
    assert "Fortnox said: “Kan inte hitta artikeln (W-9)” (code 2000428)" in parsed.plain
    assert "That means: Fortnox has no article with the number on a row." in parsed.plain
    assert "How to fix it: Create the article in Fortnox" in parsed.plain
    assert parsed.links == [REPLAY] and "(run run-1)" in parsed.plain


def test_a_failure_note_for_an_unknown_fortnox_code_still_quotes_it() -> None:
    parsed = Tags(failure_note(render, error=FortnoxError(400, 2999999, "Något gick fel"), replay_url=REPLAY,
                               document_type="order"))
    assert "create the Fortnox order" in parsed.plain
    assert "“Något gick fel” (code 2999999)" in parsed.plain and "That means" not in parsed.plain
    assert "How to fix it: Check the data on the deal and the hubnox settings, then run again." in parsed.plain


def test_a_failure_note_for_a_user_fixable_problem_says_what_and_how() -> None:
    error = UserFixableError("Deal 9001 has no company and no contact.", code="MISSING_COMPANY",
                             hint="Associate the deal with a company, then replay.")
    plain = Tags(failure_note(render, error=error, replay_url=REPLAY)).plain
    assert "Deal 9001 has no company and no contact." in plain
    assert "How to fix it: Associate the deal with a company, then replay." in plain
    assert "Fortnox said" not in plain


def test_failure_notes_for_a_broken_connection_an_outage_and_a_bug() -> None:
    broken = Tags(failure_note(render, error=ConnectionBrokenError("Fortnox"), replay_url=REPLAY)).plain
    assert "Reconnect Fortnox from the hubnox settings page." in broken
    outage = Tags(failure_note(render, error=TransientError("Fortnox answered 503; try again later."),
                               replay_url=REPLAY)).plain
    assert "kept failing after several tries" in outage and "will not make a second document" in outage
    bug = Tags(failure_note(render, error=KeyError("secret-token-value"), replay_url=REPLAY,
                            action="sync the customer")).plain
    assert "hubnox could not sync the customer." in bug and "unexpected problem" in bug
    assert "secret-token-value" not in bug


def test_a_flood_of_warnings_is_shortened_to_fit_a_hubspot_note() -> None:
    warnings = [SyncWarning(code="TEXT_CUT", message=f"Cut line {n}: " + "x" * 3000) for n in range(200)]
    body = success_note(render, document=invoice(), customer=resolution(), warnings=warnings)
    assert len(body) <= NOTE_BODY_LIMIT
    assert re.search(r"… and \d+ more\.", body)
    assert "Cut line 0:" in body and "Cut line 199:" not in body


def test_notes_show_money_as_everywhere_in_hubnox() -> None:
    assert (money(D("1234567.5"), "SEK"), money(D("-0.23"), "SEK"), money(None, "EUR")) == (
        format_money(D("1234567.5"), "SEK"), format_money(D("-0.23"), "SEK"), "—")


def test_the_fortnox_link_is_the_web_app_since_fortnox_confirms_no_deep_link() -> None:
    assert fortnox_document_url("invoice", "1001") == "https://apps.fortnox.se/"
    assert fortnox_document_url("order", "7", "http://localhost:8002/") == "http://localhost:8002/"

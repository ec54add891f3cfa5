"""The card reads what the status sync keeps on HubSpot records first: a deal whose document state
is synced shows it from its properties with no Fortnox call, a customer's totals come from its
aggregate properties and Fortnox is asked for the invoice list only while something is unpaid; a
Fortnox connection without the `payment` scope is told to reconnect."""

from __future__ import annotations

from hubnox.hubspot import properties
from hubnox.records import FortnoxConnection
from tests.unit.test_card import Connections, Crm, DealLinks, Fortnox, customer_ledger, invoice, link, request, service
from tests.unit.test_card_contacts import CrmWithCompanies

SYNCED = {
    properties.DOCUMENT_TYPE: "invoice", properties.DOCUMENT_NUMBER: "55", properties.CUSTOMER_NUMBER: "1001",
    properties.DOCUMENT_STATUS: "partly_paid", properties.DOCUMENT_TOTAL: "1250",
    properties.DOCUMENT_BALANCE: "250.5", properties.DOCUMENT_CURRENCY: "SEK",
    properties.DOCUMENT_DUE_DATE: "2026-12-27", properties.DOCUMENT_FINAL_PAY_DATE: "",
    properties.CREDIT_INVOICE_NUMBER: "", properties.STATUS_SYNCED_AT: "2026-11-27T06:02:00.000Z",
}


def test_a_synced_deal_shows_its_document_from_its_properties_without_asking_fortnox():
    fortnox = Fortnox(invoices=[invoice("55", balance="1250", sent=True)])
    crm = Crm({("deal", "904"): dict(SYNCED)})
    card = service(links=DealLinks(link()), crm=crm, fortnox=fortnox).card(request("deal", "904"))
    assert (card["state"], card["partial"]) == ("ready", False)
    assert fortnox.calls == []
    assert crm.reads == [("deal", "904")]
    document = card["document"]
    assert document == {
        "type": "invoice", "number": "55", "status": "partly_paid", "url": "https://apps.fortnox.se",
        "source": "hubspot", "syncedAt": "2026-11-27T06:02:00.000Z", "customerNumber": "1001",
        "customerName": None, "currency": "SEK", "total": "1250", "balance": "250.5",
        "totalText": "1\u00a0250,00\u00a0kr", "balanceText": "250,50\u00a0kr", "dueDate": "2026-12-27",
        "finalPayDate": None, "creditInvoiceNumber": None, "invoiceNumber": None}
    assert [action["action"] for action in card["actions"]] == ["open-settings"]


def test_a_synced_deal_without_links_needs_no_fortnox_call_either():
    fortnox = Fortnox()
    synced = {**SYNCED, properties.DOCUMENT_STATUS: "paid", properties.DOCUMENT_BALANCE: "0",
              properties.DOCUMENT_FINAL_PAY_DATE: "2026-11-20", properties.STATUS_SYNCED_AT: "1795771433000"}
    card = service(crm=Crm({("deal", "904"): synced}), fortnox=fortnox).card(request("deal", "904"))
    assert fortnox.calls == []
    document = card["document"]
    assert (document["status"], document["balance"], document["finalPayDate"]) == ("paid", "0", "2026-11-20")
    assert document["syncedAt"] == "2026-11-27T09:23:53Z"  # epoch milliseconds read as UTC


def test_a_deal_the_sync_has_not_written_reads_fortnox():
    fortnox = Fortnox(invoices=[invoice("55", balance="1250", sent=True)])
    unsynced = {**SYNCED, properties.STATUS_SYNCED_AT: ""}
    card = service(links=DealLinks(link()), crm=Crm({("deal", "904"): unsynced}),
                   fortnox=fortnox).card(request("deal", "904"))
    assert fortnox.calls == [("invoice", "55")]
    assert (card["document"]["source"], card["document"]["status"]) == ("fortnox", "sent")


def test_a_newer_document_than_the_synced_one_is_read_from_fortnox():
    fortnox = Fortnox(invoices=[invoice("56", balance="900")])
    card = service(links=DealLinks(link(number="56")), crm=Crm({("deal", "904"): dict(SYNCED)}),
                   fortnox=fortnox).card(request("deal", "904"))
    assert fortnox.calls == [("invoice", "56")]
    assert (card["document"]["number"], card["document"]["source"]) == ("56", "fortnox")


def aggregates(unpaid: str, outstanding: str = "0", overdue: str = "0", overdue_count: str = "0") -> dict[str, str]:
    return {properties.CUSTOMER_NUMBER: "1001", "name": "Kund AB", properties.UNPAID_INVOICES: unpaid,
            properties.OUTSTANDING_BALANCE: outstanding, properties.OVERDUE_AMOUNT: overdue,
            properties.OVERDUE_INVOICES: overdue_count, properties.LAST_PAYMENT_DATE: "2026-11-20"}


def test_a_customer_with_nothing_unpaid_takes_its_totals_from_the_record_and_lists_no_invoices():
    fortnox = customer_ledger()
    card = service(crm=Crm({("company", "501"): aggregates("0")}), fortnox=fortnox).card(request())
    assert fortnox.calls == [("customer", "1001")]
    customer = card["customer"]
    assert (customer["unpaidCount"], customer["overdueCount"], customer["outstanding"], customer["overdue"]) == (
        0, 0, [], [])
    assert (customer["lastPaymentDate"], customer["source"], customer["name"]) == ("2026-11-20", "hubspot", "Kund AB")
    assert "invoices" not in customer


def test_a_customer_with_unpaid_invoices_gets_its_latest_invoices_from_fortnox_and_its_totals_from_the_record():
    fortnox = customer_ledger()
    record = aggregates("3", outstanding="1850.5", overdue="1350", overdue_count="2")
    card = service(crm=Crm({("company", "501"): record}), fortnox=fortnox).card(request())
    assert sorted(fortnox.calls) == [("customer", "1001"), ("invoices", "1001", "")]
    customer = card["customer"]
    assert customer["outstanding"] == [{"currency": "SEK", "amount": "1850.5", "text": "1\u00a0850,50\u00a0kr"}]
    assert customer["overdue"] == [{"currency": "SEK", "amount": "1350", "text": "1\u00a0350,00\u00a0kr"}]
    assert (customer["unpaidCount"], customer["overdueCount"], customer["source"]) == (3, 2, "hubspot")
    assert [row["number"] for row in customer["invoices"]] == ["44", "42", "43", "41", "40"]


def test_a_customer_without_aggregates_yet_reads_every_total_from_fortnox():
    fortnox = customer_ledger()
    card = service(crm=Crm({("company", "501"): {properties.CUSTOMER_NUMBER: "1001"}}),
                   fortnox=fortnox).card(request())
    assert len(fortnox.calls) == 4
    assert (card["customer"]["unpaidCount"], card["customer"]["source"]) == (3, "fortnox")


def test_a_contact_shown_its_companys_customer_uses_the_companys_aggregates():
    fortnox = customer_ledger()
    crm = CrmWithCompanies({("contact", "77"): {}, ("company", "501"): aggregates("0")}, {"77": ["501"]})
    card = service(crm=crm, fortnox=fortnox).card(request("contact", "77"))
    assert card["customer"]["via"]["objectId"] == "501"
    assert fortnox.calls == [("customer", "1001")]
    assert card["customer"]["source"] == "hubspot"


class ScopedConnections(Connections):
    def __init__(self, scopes: tuple[str, ...]) -> None:
        super().__init__()
        self.scopes = scopes

    def get_fortnox(self, portal_id: str) -> FortnoxConnection | None:
        found = super().get_fortnox(portal_id)
        return found.model_copy(update={"scopes": self.scopes}) if found is not None else None


def test_a_connection_without_the_payment_scope_is_told_to_reconnect():
    crm = Crm({("company", "501"): aggregates("0")})
    old = service(connections=ScopedConnections(("customer", "invoice")), crm=crm, fortnox=customer_ledger())
    assert old.card(request())["fortnoxWarnings"] == ["Reconnect Fortnox to see payments."]
    for scopes in (("customer", "invoice", "payment"), ()):  # granted, or not said: no warning
        current = service(connections=ScopedConnections(scopes), crm=crm, fortnox=customer_ledger())
        assert current.card(request())["fortnoxWarnings"] == []

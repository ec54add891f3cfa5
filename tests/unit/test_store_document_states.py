"""The status sync's snapshots in DynamoDB: read back as written, many at once past BatchGetItem's 100,
and a deal's links and the portal's oldest document found for the first cycle."""

from __future__ import annotations

from datetime import date

from hubnox.store.deal_links import DealLinkStore
from hubnox.store.document_states import DocumentStateStore
from hubnox.sync.status_model import CustomerSnapshot, DocumentSnapshot
from tests.support.clock import FakeClock


def test_snapshots_read_back_as_written_and_many_at_once_past_a_hundred(table):
    store = DocumentStateStore(table)
    for number in range(150):
        store.put("1", "invoice", str(number), DocumentSnapshot(
            deal_id=f"d{number}", customer_number="C1", state="paid",
            written={"fortnox_document_balance": "0.00"}, checked_at=1.5))
    store.put("2", "invoice", "7", DocumentSnapshot(deal_id="other", customer_number="C9", state="draft"))

    found = store.get_many("1", [("invoice", str(n)) for n in range(0, 160, 3)] + [("order", "7")])

    assert sorted(found) == sorted(("invoice", str(n)) for n in range(0, 150, 3))
    assert found["invoice", "42"] == DocumentSnapshot(deal_id="d42", customer_number="C1", state="paid",
                                                      written={"fortnox_document_balance": "0.00"}, checked_at=1.5)
    assert store.get_many("1", []) == {}


def test_a_customers_snapshot_keeps_its_totals_and_last_payment_date(table):
    store = DocumentStateStore(table)
    assert store.customer("1", "C1") is None

    store.put_customer("1", "C1", CustomerSnapshot({"fortnox_unpaid_invoices": "2"}, date(2027, 1, 15)))
    store.put_customer("1", "C2", CustomerSnapshot({}))

    assert store.customer("1", "C1") == CustomerSnapshot({"fortnox_unpaid_invoices": "2"}, date(2027, 1, 15))
    assert store.customer("1", "C2") == CustomerSnapshot({}, None)


def test_a_deals_links_and_the_portals_oldest_document(table):
    clock = FakeClock(1000.0)
    links = DealLinkStore(table, clock)
    assert links.oldest_documented_at("1") is None
    links.claim("1", "12", "stage:a", "run-1")
    links.claim("1", "123", "stage:a", "run-2")
    clock.advance(10)
    links.set_document("1", "123", "stage:a", "invoice", "1001")
    clock.advance(10)
    links.set_document("1", "12", "stage:a", "order", "5")

    assert [(link.document_type, link.document_number) for link in links.for_deal("1", "12")] == [("order", "5")]
    assert links.oldest_documented_at("1") == 1010.0
    links.claim("1", "7", "stage:a", "run-3")  # claimed, no document yet
    assert links.documents_by_deal("1") == {"12": {("order", "5")}, "123": {("invoice", "1001")}}
    assert links.documents_by_deal("2") == {}

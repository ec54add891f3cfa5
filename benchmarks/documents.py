"""The pure part of a deal's sync, on made-up deals of any size: what build_document costs by itself."""

from __future__ import annotations

from decimal import Decimal

from hubnox.fortnox.models import FortnoxCustomer
from hubnox.hubspot.models import Company, Deal, LineItem
from hubnox.sync.documents import build_document
from hubnox.sync.model import ArticlePlan, CustomerResolution, DealSnapshot, DocumentDraft, PlannedLine
from hubnox.sync.portal_settings import PortalSettings


def deal_of(lines: int) -> DealSnapshot:
    """A SEK deal with `lines` line items: a third with a 10 % discount, prices with öre."""
    items = []
    for i in range(lines):
        price, quantity = Decimal(100 + i) + Decimal("0.45"), Decimal(1 + i % 3)
        amount = price * quantity
        props = {"name": f"Item {i}", "quantity": str(quantity), "price": str(price), "hs_sku": f"SKU-{i}"}
        if i % 3 == 0:
            props["hs_discount_percentage"] = "10"
            amount -= (amount / 10).quantize(Decimal("0.01"), "ROUND_HALF_UP")
        props["amount"] = str(amount.quantize(Decimal("0.01")))
        items.append(LineItem(id=str(1000 + i), properties=props))
    return DealSnapshot(deal=Deal(id="9001", properties={"dealname": "Bench", "deal_currency_code": "SEK"}),
                        line_items=items, company=Company(id="301", properties={"name": "Acme AB"}))


def build_once(lines: int) -> DocumentDraft:
    """Build the invoice for a deal of `lines` line items, as the worker does once it has its inputs."""
    snapshot = deal_of(lines)
    customer = CustomerResolution(customer_number="17", customer_name="Acme AB", action="matched",
                                  source="company", source_id="301",
                                  customer=FortnoxCustomer(customer_number="17", name="Acme AB"))
    plan = ArticlePlan(lines=[PlannedLine(line=item, article_number=item.sku or "HUBSPOT", source="existing",
                                          article_vat=Decimal(25), sku=item.sku) for item in snapshot.line_items])
    return build_document(snapshot, customer, plan, PortalSettings(), "invoice")

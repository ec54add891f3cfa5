"""What the card reads, as ports: HubSpot records, Fortnox customers and documents, the match rule."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from hubnox.fortnox.models import FortnoxCustomer, Invoice, Order
from hubnox.hubspot.models import AssociatedRecord, CrmObject
from hubnox.jobs import ObjectType


class CrmReader(Protocol):
    """What the card reads from HubSpot (`HubSpotClient`)."""

    def get_object(self, object_type: str, object_id: str, properties: Sequence[str] = (),
                   associations: Sequence[str] = ()) -> CrmObject: ...

    def associations(self, from_type: str, object_id: str, to_type: str) -> list[AssociatedRecord]: ...


class FortnoxReader(Protocol):
    """What the card reads from Fortnox (`FortnoxClient`)."""

    def get_customer(self, customer_number: str) -> FortnoxCustomer: ...

    def list_invoices(self, customer_number: str, filter: str | None = None) -> list[Invoice]: ...

    def get_invoice(self, document_number: str) -> Invoice: ...

    def get_order(self, document_number: str) -> Order: ...


class CustomerMatcher(Protocol):
    """The portal's match rule: the Fortnox customer number for a company or contact, or None."""

    def __call__(self, portal_id: str, object_type: ObjectType, record: CrmObject) -> str | None: ...

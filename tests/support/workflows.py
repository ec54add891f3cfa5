"""HubSpot's side of the end-to-end stories, over the local stack: a rep's CRM data through HubSpot's real
API, the workflow engine enrolling deals in hubnox's action, and the stack's queue, poller and table."""

from __future__ import annotations

from typing import Any

from hubnox.records import Run
from hubnox.store.connections import ConnectionStore
from hubnox.store.crypto import TokenCipher
from hubnox.store.runs import RunStore
from hubnox.store.table import Table

CRM = "/crm/objects/2026-03"
#: A tick dispatches, then drains the poll queue for up to a minute (sandbox.aws.DRAIN_TIMEOUT): one
#: status message per connected portal rides that queue, and a session's stack gathers many portals.
TICK_TIMEOUT = 90.0
LINE_ITEM_TO_DEAL = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 20}
DEAL_TO_CONTACT = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}
LINE_ITEMS = (
    {"name": "Onboarding workshop", "quantity": "1", "price": "12000.00", "hs_sku": "HNX-ONB"},
    {"name": "hubnox seat, 12 months", "quantity": "5", "price": "1490.50", "hs_sku": "HNX-SEAT"},
)


class Rep:
    """A sales rep's view of one portal: CRM data through HubSpot's real API, with a seeding app's token."""

    def __init__(self, stack: Any, portal_id: str, token: str) -> None:
        self.stack, self.portal_id = stack, portal_id
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = self.stack.hubspot.request(method, path, headers=self.headers, **kwargs)
        assert response.status_code == expect, response.text
        return response.json() if response.content else None

    def deal(self, stage: str = "appointmentscheduled", name: str = "Acme AB - hubnox rollout", *,
             line_items: bool = True) -> str:
        """A deal with a contact and (unless told otherwise) two line items, as a rep sets one up."""
        contact = self.call("POST", f"{CRM}/contacts", 201, json={"properties": {
            "firstname": "Astrid", "lastname": "Lind", "email": f"astrid.{name.split()[0].lower()}@example.se"},
            "associations": []})
        deal = self.call("POST", f"{CRM}/0-3", 201, json={"properties": {
            "dealname": name, "pipeline": "default", "dealstage": stage, "deal_currency_code": "SEK"},
            "associations": [{"to": {"id": contact["id"]}, "types": [DEAL_TO_CONTACT]}]})
        if line_items:
            self.add_line_items(str(deal["id"]))
        return str(deal["id"])

    def add_line_items(self, deal_id: str) -> None:
        for item in LINE_ITEMS:
            self.call("POST", f"{CRM}/line_items", 201, json={
                "properties": item, "associations": [{"to": {"id": deal_id}, "types": [LINE_ITEM_TO_DEAL]}]})

    def move(self, deal_id: str, stage: str) -> None:
        self.call("PATCH", f"{CRM}/0-3/{deal_id}", json={"properties": {"dealstage": stage}})

    def notes(self, deal_id: str) -> list[str]:
        """The bodies of the notes on the deal's timeline, oldest first."""
        linked = self.call("GET", f"{CRM}/0-3/{deal_id}/associations/notes")["results"]
        ids = sorted((str(link["toObjectId"]) for link in linked), key=int)
        return [self.call("GET", f"{CRM}/notes/{note_id}", params={"properties": "hs_note_body"})
                ["properties"]["hs_note_body"] for note_id in ids]


def enroll(stack: Any, portal_id: str, deal_id: str, document_type: str = "invoice",
           callback_id: str | None = None, client_id: str | None = None) -> dict[str, Any]:
    """HubSpot's workflow engine reaching hubnox's action for the deal (or delivering `callback_id` again).

    Names hubnox's app: the portal also has the seeding app installed, whose secret is not hubnox's.
    """
    spec: dict[str, Any] = {"portalId": int(portal_id),
                            "clientId": client_id or stack.environment["HUBSPOT_CLIENT_ID"]}
    if callback_id:
        spec["callbackId"] = callback_id
    else:
        spec.update({"objectType": "DEAL", "objectId": deal_id, "inputFields": {"documentType": document_type},
                     "actionUrl": f"{stack.running.gateway_url}/hubspot/actions/create-document",
                     "objectProperties": ["dealname"]})
    response = stack.hubspot.post("/_sandbox/workflows/enroll", json=spec)
    assert response.status_code == 200, response.text
    return response.json()


def callback(stack: Any, callback_id: str) -> dict[str, Any]:
    """The execution as HubSpot's workflow sees it: state, execution state, outputs."""
    return stack.hubspot.get(f"/_sandbox/callbacks/{callback_id}").json()


def drain(stack: Any) -> dict[str, Any]:
    """Run every queued job through the worker."""
    result = stack.gateway.post("/_sandbox/worker/drain", timeout=90).json()
    assert not result.get("timed_out"), result
    return result


def tick(stack: Any) -> dict[str, Any]:
    """One poller tick; answers what the poller returned."""
    response = stack.gateway.post("/_sandbox/poller/tick", timeout=TICK_TIMEOUT)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def table(stack: Any) -> Table:
    return Table(stack.aws("dynamodb"), stack.environment["TABLE_NAME"])


def stored_connections(stack: Any) -> ConnectionStore:
    """The stack's connections as hubnox stores them, opened with the stack's tokens key."""
    return ConnectionStore(table(stack), TokenCipher(stack.aws("kms"), stack.environment["KMS_KEY_ID"]))


def portal_runs(stack: Any, portal_id: str) -> list[Run]:
    """The portal's runs, newest first."""
    return RunStore(table(stack), clock=lambda: 0.0).list_recent(portal_id)


def fortnox_invoices(stack: Any, tenant_id: str, deal_id: str) -> list[dict[str, Any]]:
    """The Fortnox company's invoices that name the deal, as the Fortnox simulator holds them."""
    company = stack.fortnox.get(f"/_sandbox/companies/{tenant_id}").json()
    return [i for i in company.get("Invoices") or [] if str(i.get("ExternalInvoiceReference1")) == deal_id]

"""The card's buttons: sync a customer, create a document, open the settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from hubnox.errors import BadRequestError, ConnectionBrokenError, NotFoundError, UserFixableError
from hubnox.jobs import Submit, trigger_key
from hubnox.records import RunRequest
from hubnox.services.card.request import CardRequest
from hubnox.services.card.service import DOCUMENT_TYPES, IN_FLIGHT, NOT_THE_ADMIN, CardService
from hubnox.sync.ports import Connections, DealLinks, RunHistory

CardAction = Literal["update-customer", "create-document", "open-settings"]
CARD_ACTIONS: tuple[CardAction, ...] = ("update-customer", "create-document", "open-settings")


class CardActions:
    """The card's buttons: enqueue a customer sync or a document, or hand out a settings link."""

    def __init__(self, *, cards: CardService, connections: Connections, runs: RunHistory, deal_links: DealLinks,
                 submit: Submit) -> None:
        self._cards = cards
        self._connections = connections
        self._runs = runs
        self._deal_links = deal_links
        self._submit = submit

    def perform(self, action: str, request: CardRequest, body: Mapping[str, Any]) -> dict[str, Any]:
        """Carry out one card action and answer JSON the card shows (`ok`, `message`, and `runId` or `url`).

        Raises `NotFoundError` for an unknown action, `BadRequestError` for an action on the wrong
        kind of record, and `ConnectionBrokenError` when hubnox or Fortnox is not connected.
        """
        if action == "open-settings":
            link = self._cards.settings_link(request)
            if link is None:
                return {"ok": False, "message": NOT_THE_ADMIN}
            return {"ok": True, "message": "Opening the hubnox settings.", "url": link}
        if action not in CARD_ACTIONS:
            raise NotFoundError(f"The app card has no action {action!r}.", code="UNKNOWN_ACTION")
        self._require_connections(request.portal_id)
        answer = (self._create_document(request, body) if action == "create-document"
                  else self._update_customer(request))
        self._cards.forget(request)
        return answer

    def _require_connections(self, portal_id: str) -> None:
        hubspot = self._connections.get_hubspot(portal_id)
        if hubspot is None or hubspot.status != "active":
            raise ConnectionBrokenError("HubSpot", "hubnox is not installed in this HubSpot portal.")
        fortnox = self._connections.get_fortnox(portal_id)
        if fortnox is None or fortnox.status != "active":
            raise ConnectionBrokenError("Fortnox", "This HubSpot portal has no working Fortnox connection.")

    def _create_document(self, request: CardRequest, body: Mapping[str, Any]) -> dict[str, Any]:
        if request.object_type != "deal":
            raise BadRequestError("Documents are made from deals; open the card on a deal.", code="NOT_A_DEAL")
        document_type = str(body.get("documentType") or self._cards.default_document_type(request.portal_id))
        document_type = document_type.strip().lower()
        if document_type not in DOCUMENT_TYPES:
            raise BadRequestError(f"A document is an invoice or an order, not {document_type!r}.",
                                  code="BAD_DOCUMENT_TYPE")
        key = trigger_key("manual", document_type)
        existing = self._deal_links.get(request.portal_id, request.object_id, key)
        if existing is not None and existing.document_number:
            raise UserFixableError(f"This deal already has Fortnox {existing.document_type} "
                                   f"{existing.document_number}.", code="ALREADY_EXISTS")
        latest = self._runs.latest_for_object(request.portal_id, "deal", request.object_id)
        # Only a run for the same document type and trigger answers this click: an order run of a
        # workflow under way does not make the invoice asked for here.
        if (latest is not None and latest.kind == "create_document" and latest.status in IN_FLIGHT
                and latest.trigger_key == key):
            return {"ok": True, "runId": latest.run_id, "status": latest.status,
                    "message": f"A Fortnox {latest.document_type or 'document'} for this deal is already on its way."}
        run = self._submit(RunRequest(portal_id=request.portal_id, kind="create_document", trigger="card",
                                      object_type="deal", object_id=request.object_id,
                                      document_type=document_type, trigger_key=key))
        return {"ok": True, "runId": run.run_id, "status": run.status,
                "message": f"The Fortnox {document_type} is being created; it shows here in a minute."}

    def _update_customer(self, request: CardRequest) -> dict[str, Any]:
        if request.object_type == "deal":
            raise BadRequestError("Customers are synced from companies and contacts; open the card on one.",
                                  code="NOT_A_CUSTOMER")
        run = self._submit(RunRequest(portal_id=request.portal_id, kind="sync_customer", trigger="card",
                                      object_type=request.object_type, object_id=request.object_id))
        return {"ok": True, "runId": run.run_id, "status": run.status,
                "message": "The Fortnox customer is being updated; it shows here in a minute."}

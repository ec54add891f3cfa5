"""Whose card for which record: the request a signed `hubspot.fetch` names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from hubnox.errors import BadRequestError
from hubnox.ids import bounded_text, hubspot_id, hubspot_id_or_none
from hubnox.jobs import ObjectType

#: how the card and HubSpot name object types, to hubnox's names
_OBJECT_TYPES: dict[str, ObjectType] = {
    "deal": "deal", "deals": "deal", "0-3": "deal",
    "company": "company", "companies": "company", "0-2": "company",
    "contact": "contact", "contacts": "contact", "0-1": "contact",
}


def object_type_of(value: str | None) -> ObjectType:
    """hubnox's object type for a card's `objectType` ("0-3", "deals", "DEAL" ...); BadRequestError else."""
    found = _OBJECT_TYPES.get((value or "").strip().lower())
    if found is None:
        raise BadRequestError(f"The app card does not support the object type {value!r}.", code="BAD_OBJECT_TYPE",
                              hint="Use the card on deals, companies or contacts.")
    return found


class CardRequest(BaseModel):
    """Whose card for which record: what the signed `hubspot.fetch` query names."""

    model_config = ConfigDict(frozen=True)

    portal_id: str
    object_type: ObjectType
    object_id: str
    user_id: str | None = None
    user_email: str | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str], body: Mapping[str, Any] | None = None) -> CardRequest:
        """Read `portalId`, `userId`, `userEmail` (appended by HubSpot) and `objectType`, `objectId`
        (from the card, in the query or the JSON body); BadRequestError names what is missing.

        Who is asking comes from the query only: HubSpot appends it there, the card cannot.
        """
        record = {name: (body or {}).get(name) for name in ("objectType", "objectId")}
        merged = {**{k: v for k, v in record.items() if isinstance(v, str | int)}, **query}
        portal_id = hubspot_id_or_none(query.get("portalId"))
        object_id = hubspot_id_or_none(merged.get("objectId"))
        if portal_id is None:
            raise BadRequestError("The request names no HubSpot portal (portalId).", code="MISSING_PORTAL")
        if object_id is None:
            raise BadRequestError("The request names no record (objectId).", code="MISSING_OBJECT")
        user_id = query.get("userId")
        return cls(portal_id=portal_id, object_type=object_type_of(str(merged.get("objectType") or "")),
                   object_id=object_id, user_id=None if user_id in (None, "") else hubspot_id(user_id, "userId"),
                   user_email=bounded_text(query.get("userEmail"), "userEmail"))

    @property
    def user(self) -> str:
        """Who is looking, for the settings session: the e-mail, else the user id."""
        return self.user_email or self.user_id or ""

"""The HubSpot simulator's account settings that hubnox reads: the tax-rate library, the owners and
the users.

    GET /tax-rates/2026-03/tax-rates                    the portal's tax-rate library, paged
    GET /tax-rates/2026-03/tax-rates/{taxRateGroupId}   one tax rate
    GET /tax-rates/v1/tax-rates[/{taxRateGroupId}]      the same on the older v1 path
    GET /crm/owners/2026-03/{ownerId}                   one owner (`idProperty`, `archived`)
    GET /settings/users/2026-03/{userId}                one user of the account (`idProperty`)

No official spec file for either API is among ../shared/specs/hubspot, so the shapes follow
HubSpot's API reference: a tax rate is `{id, name, label, percentageRate, active, createdAt,
updatedAt}` (reference hubspot.md §4.3) and needs the scope `tax_rates.read`; an owner is the CRM
owners v3 shape `{id, email, type, firstName, lastName, userId, userIdIncludingInactive,
createdAt, updatedAt, archived, [teams]}` and needs `crm.objects.owners.read` (§8); a user is the
settings users API's `{id, email, firstName, lastName, superAdmin, roleIds, [roleId],
[primaryTeamId], secondaryTeamIds, sendWelcomeEmail}` and needs `settings.users.read`.

Seeding (`POST /_sandbox/portals` takes `taxRates` and `owners`; `PUT
/_sandbox/portals/{id}/tax-rates` and `POST /_sandbox/portals/{id}/owners` change a portal that
exists) goes through `set_tax_rates` and `add_owner` here; `users` (and `POST
/_sandbox/portals/{id}/users`, `{email, firstName?, lastName?, superAdmin?, id?}`) through
`add_user`. The consent page signs in the portal's installing user unless `sandbox_user` names
another user of the portal.

Decisions on what HubSpot does not document:
- a new portal's library holds Swedish VAT as four rates (`SWEDISH_VAT`: 25, 12, 6 and 0 %),
  since a portal that invoices through Fortnox would set those up first;
- the library lists inactive rates too (with `active: false`): a line item keeps the rate it was
  given; pages hold 1 to `TAX_RATE_PAGE_MAX` rates (all of them by default) and `after` is the
  offset of the next one;
- a new portal has one owner and one user, its super admin (the user who installs apps);
- a user is looked up by id (`idProperty=USER_ID`, the default) or e-mail (`EMAIL`); an unknown
  one is a 404 OBJECT_NOT_FOUND, an unknown `idProperty` a 400;
- an unknown owner, or an archived one asked for without `archived=true`, is a 404
  OBJECT_NOT_FOUND; a non-numeric owner id or an unknown `idProperty` is a 400.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from sandbox.common import SandboxError, json_response, read_json
from sandbox.hubspot_errors import not_found, validation_error
from sandbox.hubspot_requests import flag, int_arg, offset_arg
from sandbox.hubspot_store import iso_ms

if TYPE_CHECKING:
    from sandbox.hubspot import HubSpotSimulator
    from sandbox.hubspot_oauth import Grant
    from sandbox.hubspot_store import Portal

TAX_RATES_READ_SCOPES = ("tax_rates.read",)
OWNERS_READ_SCOPES = ("crm.objects.owners.read",)
USERS_READ_SCOPES = ("settings.users.read", "settings.users.write")
TAX_RATE_PAGE_MAX = 100
#: (name, label, percentage) of the rates a new portal's library holds
SWEDISH_VAT: tuple[tuple[str, str, str], ...] = (
    ("SE VAT 25%", "Moms 25 %", "25"),
    ("SE VAT 12%", "Moms 12 %", "12"),
    ("SE VAT 6%", "Moms 6 %", "6"),
    ("SE VAT 0%", "Momsfri 0 %", "0"),
)
ADMIN_NAME = ("Sandbox", "Admin")


@dataclass
class TaxRate:
    """One rate of a portal's tax-rate library; `id` is what line items name in `hs_tax_rate_group_id`."""

    id: str
    name: str
    label: str
    percentage_rate: Decimal
    active: bool
    created_ms: int

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "label": self.label,
                "percentageRate": _json_number(self.percentage_rate), "active": self.active,
                "createdAt": iso_ms(self.created_ms), "updatedAt": iso_ms(self.created_ms)}


@dataclass
class Owner:
    """A HubSpot owner: a user (or a queue) records can be assigned to with `hubspot_owner_id`."""

    id: str
    email: str
    first_name: str
    last_name: str
    user_id: int | None
    created_ms: int
    archived: bool = False
    type: str = "PERSON"
    teams: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id, "email": self.email, "type": self.type, "firstName": self.first_name,
            "lastName": self.last_name, "createdAt": iso_ms(self.created_ms), "updatedAt": iso_ms(self.created_ms),
            "archived": self.archived,
        }
        if self.user_id is not None:
            body["userIdIncludingInactive"] = self.user_id
            if not self.archived:  # a deactivated user's owner keeps only the "including inactive" id
                body["userId"] = self.user_id
        if self.teams:
            body["teams"] = self.teams
        return body


@dataclass
class User:
    """A user of a HubSpot account, as the settings users API shows one."""

    id: str
    email: str
    first_name: str
    last_name: str
    super_admin: bool
    role_ids: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "email": self.email, "firstName": self.first_name, "lastName": self.last_name,
                "superAdmin": self.super_admin, "roleIds": list(self.role_ids), "secondaryTeamIds": [],
                "sendWelcomeEmail": False}


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


class AccountRoutes:
    """Tax rates and owners (a mixin of HubSpotSimulator)."""

    # -- the API -----------------------------------------------------------------------------------

    def _tax_rate_list(self: HubSpotSimulator, request: Request, grant: Grant) -> Response:
        rates = list(self.tax_rates[grant.portal_id].values())
        limit = int_arg(request, "limit", TAX_RATE_PAGE_MAX)
        if not 1 <= limit <= TAX_RATE_PAGE_MAX:
            raise validation_error(f"limit must be between 1 and {TAX_RATE_PAGE_MAX}")
        start = offset_arg(request.args.get("after"))
        page = rates[start:start + limit]
        body: dict[str, Any] = {"results": [rate.as_json() for rate in page]}
        if start + limit < len(rates):
            after = str(start + limit)
            body["paging"] = {"next": {"after": after, "link": f"{request.base_url}?after={after}&limit={limit}"}}
        return json_response(body)

    def _tax_rate(self: HubSpotSimulator, request: Request, grant: Grant, tax_rate_id: str) -> Response:
        rate = self.tax_rates[grant.portal_id].get(tax_rate_id)
        if rate is None:
            raise not_found(f"No tax rate found with id {tax_rate_id}")
        return json_response(rate.as_json())

    def _owner(self: HubSpotSimulator, request: Request, grant: Grant, owner_id: str) -> Response:
        id_property = request.args.get("idProperty", "id")
        if id_property not in ("id", "userId"):
            raise validation_error(f"idProperty must be id or userId, not {id_property!r}")
        if not owner_id.isdigit():
            raise validation_error(f"ownerId must be a number, not {owner_id!r}")
        archived = flag(request, "archived")
        owners = self.owners[grant.portal_id].values()
        for owner in owners:
            key = owner.id if id_property == "id" else str(owner.user_id)
            if key == owner_id and owner.archived == archived:
                return json_response(owner.as_json())
        raise not_found(f"No owner found with {id_property} {owner_id}")

    def _user(self: HubSpotSimulator, request: Request, grant: Grant, user_id: str) -> Response:
        id_property = request.args.get("idProperty", "USER_ID")
        if id_property not in ("USER_ID", "EMAIL"):
            raise validation_error(f"idProperty must be USER_ID or EMAIL, not {id_property!r}")
        users = self.users[grant.portal_id].values()
        for user in users:
            key = user.id if id_property == "USER_ID" else user.email.lower()
            if key == (user_id if id_property == "USER_ID" else user_id.lower()):
                return json_response(user.as_json())
        raise not_found(f"No user found with {id_property} {user_id}")

    # -- the portal's account, as seeded ---------------------------------------------------------

    def new_account(self: HubSpotSimulator, portal: Portal) -> None:
        """A new portal's library (Swedish VAT) and its one owner and user, the super admin."""
        self.tax_rates[portal.id] = {}
        self.owners[portal.id] = {}
        self.users[portal.id] = {}
        self.add_user(portal, {"id": portal.user_id, "email": portal.user_email, "firstName": ADMIN_NAME[0],
                               "lastName": ADMIN_NAME[1], "superAdmin": True})
        self.set_tax_rates(portal, [{"name": name, "label": label, "percentageRate": rate}
                                    for name, label, rate in SWEDISH_VAT])
        self.add_owner(portal, {"firstName": ADMIN_NAME[0], "lastName": ADMIN_NAME[1], "email": portal.user_email,
                                "userId": portal.user_id})

    def drop_account(self: HubSpotSimulator, portal_id: int) -> None:
        self.tax_rates.pop(portal_id, None)
        self.owners.pop(portal_id, None)
        self.users.pop(portal_id, None)

    def set_tax_rates(self: HubSpotSimulator, portal: Portal, specs: Any) -> list[TaxRate]:
        """Replace the portal's library with `specs` ({id?, name, label?, percentageRate, active?})."""
        if not isinstance(specs, list):
            raise SandboxError(400, "taxRates must be a list of {name, percentageRate, label?, active?, id?}")
        library: dict[str, TaxRate] = {}
        for spec in specs:
            rate = self._tax_rate_from(spec)
            if rate.id in library:
                raise SandboxError(400, f"tax rate id {rate.id} is listed twice")
            library[rate.id] = rate
        self.tax_rates[portal.id] = library
        return list(library.values())

    def _tax_rate_from(self: HubSpotSimulator, spec: Any) -> TaxRate:
        if not isinstance(spec, dict) or not spec.get("name") or spec.get("percentageRate") is None:
            raise SandboxError(400, f"a tax rate needs a name and a percentageRate: {spec!r}")
        try:
            percentage = Decimal(str(spec["percentageRate"]))
        except InvalidOperation:
            percentage = Decimal("NaN")
        if not percentage.is_finite() or not 0 <= percentage <= 100:
            raise SandboxError(400, f"percentageRate must be a number from 0 to 100: {spec['percentageRate']!r}")
        rate_id = str(spec.get("id") or next(self._tax_rate_ids))
        return TaxRate(id=rate_id, name=str(spec["name"]), label=str(spec.get("label") or spec["name"]),
                       percentage_rate=percentage, active=bool(spec.get("active", True)), created_ms=self.now_ms())

    def add_owner(self: HubSpotSimulator, portal: Portal, spec: Any) -> Owner:
        """Add an owner ({firstName, lastName, email, id?, userId?, archived?, teams?}) to the portal."""
        if not isinstance(spec, dict) or not spec.get("email"):
            raise SandboxError(400, f"an owner needs an email (and firstName, lastName): {spec!r}")
        owner_id = str(spec.get("id") or next(self._owner_ids))
        if not owner_id.isdigit():
            raise SandboxError(400, f"owner ids are numeric, not {owner_id!r}")
        if owner_id in self.owners[portal.id]:
            raise SandboxError(409, f"owner {owner_id} already exists")
        user_id = spec.get("userId")
        owner = Owner(id=owner_id, email=str(spec["email"]), first_name=str(spec.get("firstName") or ""),
                      last_name=str(spec.get("lastName") or ""),
                      user_id=int(user_id) if user_id is not None else next(self._user_ids),
                      created_ms=self.now_ms(), archived=bool(spec.get("archived", False)),
                      teams=list(spec.get("teams") or []))
        self.owners[portal.id][owner.id] = owner
        return owner

    def add_user(self: HubSpotSimulator, portal: Portal, spec: Any) -> User:
        """Add a user ({email, firstName?, lastName?, superAdmin?, id?}) to the portal."""
        if not isinstance(spec, dict) or not spec.get("email"):
            raise SandboxError(400, f"a user needs an email (and firstName, lastName, superAdmin): {spec!r}")
        user_id = str(spec.get("id") or next(self._user_ids))
        if not user_id.isdigit():
            raise SandboxError(400, f"user ids are numeric, not {user_id!r}")
        users = self.users[portal.id]
        if user_id in users or any(u.email.lower() == str(spec["email"]).lower() for u in users.values()):
            raise SandboxError(409, f"user {user_id} ({spec['email']}) already exists")
        user = User(id=user_id, email=str(spec["email"]), first_name=str(spec.get("firstName") or ""),
                    last_name=str(spec.get("lastName") or ""), super_admin=bool(spec.get("superAdmin", False)),
                    role_ids=[str(r) for r in spec.get("roleIds") or []])
        users[user.id] = user
        return user

    def portal_user(self: HubSpotSimulator, portal: Portal, user_id: Any) -> User:
        """The portal's user `user_id` (who consents on the authorize page); SandboxError 400 if none."""
        found = self.users.get(portal.id, {}).get(str(user_id))
        if found is None:
            raise SandboxError(400, f"portal {portal.id} has no user {user_id}")
        return found

    def account_json(self: HubSpotSimulator, portal: Portal) -> dict[str, Any]:
        """The portal's library, owners and users for the control surface's portal dump."""
        return {"taxRates": [rate.as_json() for rate in self.tax_rates[portal.id].values()],
                "owners": [owner.as_json() for owner in self.owners[portal.id].values()],
                "users": [user.as_json() for user in self.users[portal.id].values()]}

    # -- the control surface ---------------------------------------------------------------------

    def _control_tax_rates(self: HubSpotSimulator, request: Request, portal_id: int) -> Response:
        spec = read_json(request)
        with self.lock:
            portal = self.portal(portal_id)
            rates = self.set_tax_rates(portal, spec.get("taxRates") if isinstance(spec, dict) else None)
            return json_response({"taxRates": [rate.as_json() for rate in rates]})

    def _control_owners(self: HubSpotSimulator, request: Request, portal_id: int) -> Response:
        spec = read_json(request)
        with self.lock:
            owner = self.add_owner(self.portal(portal_id), spec)
            return json_response(owner.as_json(), status=201)

    def _control_users(self: HubSpotSimulator, request: Request, portal_id: int) -> Response:
        spec = read_json(request)
        with self.lock:
            user = self.add_user(self.portal(portal_id), spec)
            return json_response(user.as_json(), status=201)

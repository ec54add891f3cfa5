"""What the Fortnox simulator holds: companies (tenants) and their data, the OAuth clients,
consents, grants, codes and tokens, and the clocks. `FortnoxState` is the one object the route
modules share; each takes it instead of the whole simulator.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.common import Clock, SandboxError
from sandbox.fortnox_fields import luhn_digit

LICENCES = ("kundfaktura", "order", "bokforing")

STOCKHOLM = "Europe/Stockholm"

DEFAULT_CURRENCIES = (
    ("SEK", "Svensk krona", "1", "1"),
    ("EUR", "Euro", "11.4712", "11.5212"),
    ("USD", "US-dollar", "10.5838", "10.6338"),
    ("NOK", "Norsk krona", "0.9975", "1.0125"),
    ("DKK", "Dansk krona", "1.5363", "1.5513"),
)

DEFAULT_TERMS = (
    ("0", "Kontant"),
    ("10", "10 dagar"),
    ("15", "15 dagar"),
    ("20", "20 dagar"),
    ("30", "30 dagar"),
)

DEFAULT_TERMS_CODE = "30"

#: print templates by the `type` of GET /3/printtemplates; the first of each is the default
PRINT_TEMPLATES: dict[str, tuple[tuple[str, str], ...]] = {
    "invoice": (("fakt", "Faktura"), ("faktura_en", "Invoice")),
    "order": (("orderbekr", "Orderbekräftelse"), ("foljesedel", "Följesedel")),
    "offer": (("offert", "Offert"),),
    "cashinvoice": (("kvitto", "Kontantfaktura"),),
}


@dataclass
class Company:
    """One Fortnox company (tenant) and everything it holds."""

    tenant_id: int
    info: dict[str, Any]
    licences: set[str] = field(default_factory=lambda: set(LICENCES))
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted_customer_numbers: set[str] = field(default_factory=set)
    articles: dict[str, dict[str, Any]] = field(default_factory=dict)
    price_lists: dict[str, dict[str, Any]] = field(default_factory=dict)
    prices: dict[tuple[str, str, Decimal], dict[str, Any]] = field(default_factory=dict)
    invoices: dict[int, dict[str, Any]] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    terms_of_payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the scopes a consent to this company can grant (None: every scope asked for); an admin
    #: whose Fortnox user lacks rights, or an integration set up without a scope, grants fewer
    grantable_scopes: frozenset[str] | None = None
    currencies: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: ways and terms of delivery, accounts, cost centers, projects (`fortnox_registers`), by register
    registers: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    payments: list[dict[str, Any]] = field(default_factory=list)
    emails: list[dict[str, Any]] = field(default_factory=list)
    row_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    voucher_numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    payment_numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def next_row_id(self) -> int:
        return next(self.row_ids)

    def next_payment_number(self) -> int:
        """The next invoice payment's Number (Fortnox numbers them in one series per company)."""
        return next(self.payment_numbers)

    def preselected_price_list(self) -> str:
        for code, price_list in self.price_lists.items():
            if price_list.get("PreSelected"):
                return code
        return next(iter(self.price_lists), "A")


@dataclass
class Client:
    client_id: str
    secret: str
    service_account: bool = True


@dataclass
class Consent:
    """A customer's consent to one client (one per client id and tenant, as Fortnox keeps them)."""

    client_id: str
    tenant_id: int
    scopes: tuple[str, ...]
    service: bool = False
    revoked: bool = False
    generation: int = 0


@dataclass
class Grant:
    """One authorisation-code chain of single-use refresh tokens."""

    id: int
    client_id: str
    tenant_id: int
    scopes: tuple[str, ...]
    generation: int
    refresh_token: str | None = None
    revoked: bool = False


@dataclass
class AuthCode:
    code: str
    client_id: str
    tenant_id: int
    scopes: tuple[str, ...]
    redirect_uri: str | None
    expires_at: float
    used: bool = False


@dataclass
class AccessToken:
    token: str
    client_id: str
    tenant_id: int
    scopes: tuple[str, ...]
    expires_at: float
    generation: int
    expired: bool = False


@dataclass
class RefreshToken:
    token: str
    grant_id: int
    expires_at: float
    spent: bool = False


class FortnoxState:
    """Every company, client, consent and token, the clocks and the lock that guards them."""

    def __init__(self, *, lock: threading.RLock, clock: Clock, wall_clock: Clock, token_ttl: int) -> None:
        self.lock = lock
        self.clock = clock
        self.wall_clock = wall_clock
        self.token_ttl = token_ttl
        self.companies: dict[int, Company] = {}
        self.clients: dict[str, Client] = {}
        self.consents: dict[tuple[str, int], Consent] = {}
        self.grants: dict[int, Grant] = {}
        self.codes: dict[str, AuthCode] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.tenant_ids = itertools.count(1_000_001)
        self.grant_ids = itertools.count(1)

    def today(self) -> date:
        """Today in Sweden, by the injected wall clock."""
        return self.now().date()

    def now(self) -> datetime:
        try:
            zone: Any = ZoneInfo(STOCKHOLM)
        except (KeyError, ValueError, OSError):
            zone = None
        return datetime.fromtimestamp(self.wall_clock(), zone)

    def create_company(
        self,
        *,
        name: str | None = None,
        organization_number: str | None = None,
        licences: Iterable[str] | None = None,
        grantable_scopes: Iterable[str] | None = None,
    ) -> Company:
        """A fresh company with Fortnox's usual defaults (terms, currencies, price list A, templates)."""
        with self.lock:
            tenant_id = next(self.tenant_ids)
            serial = tenant_id - 1_000_000
            if organization_number is None:
                payload = f"556{serial:06d}"
                digits = payload + luhn_digit(payload)
                organization_number = f"{digits[:6]}-{digits[6:]}"
            company = Company(
                tenant_id=tenant_id,
                info={
                    "Address": "Storgatan 1",
                    "City": "Stockholm",
                    "CompanyName": name or f"Sandbox AB {serial}",
                    "CountryCode": "SE",
                    "DatabaseNumber": tenant_id,
                    "OrganizationNumber": organization_number,
                    "VisitAddress": "Storgatan 1",
                    "VisitCity": "Stockholm",
                    "VisitCountryCode": "SE",
                    "VisitZipCode": "111 22",
                    "ZipCode": "111 22",
                },
            )
            if licences is not None:
                company.licences = {licence for licence in licences if licence in LICENCES}
            if grantable_scopes is not None:
                company.grantable_scopes = frozenset(grantable_scopes)
            for code, description in DEFAULT_TERMS:
                company.terms_of_payments[code] = {
                    "Code": code,
                    "Description": description,
                    "_days": int(code),
                }
            stamp = self.today().isoformat()
            for code, description, buy, sell in DEFAULT_CURRENCIES:
                company.currencies[code] = {
                    "Code": code,
                    "Description": description,
                    "BuyRate": Decimal(buy),
                    "SellRate": Decimal(sell),
                    "Unit": Decimal(1),
                    "Date": stamp,
                    "IsAutomatic": False,
                }
            company.price_lists["A"] = {
                "Code": "A",
                "Description": "Standard",
                "Comments": None,
                "PreSelected": True,
            }
            self.companies[tenant_id] = company
            return company

    def company(self, tenant_id: int) -> Company:
        company = self.companies.get(tenant_id)
        if company is None:
            raise SandboxError(404, f"no company {tenant_id}")
        return company

    def stamp(self, item: dict[str, Any]) -> None:
        item["_modified"] = self.now().strftime("%Y-%m-%d %H:%M:%S")

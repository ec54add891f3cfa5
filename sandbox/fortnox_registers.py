"""The Fortnox simulator's registers a customer's defaults point into: ways of delivery, terms of
delivery, accounts, cost centers and projects (/3/wayofdeliveries, /3/termsofdeliveries,
/3/accounts, /3/costcenters, /3/projects), listed and created as the spec shapes them.

A new company holds a few of each (`DEFAULT_REGISTERS`), a small part of the BAS chart of accounts
among them, so the lists are never empty. A customer naming a code that its register lacks is
refused (`check_customer_codes`), as Fortnox refuses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox.common import json_response
from sandbox.fortnox_errors import FortnoxError
from sandbox.fortnox_fields import base_url, read_payload
from sandbox.fortnox_lists import ListSpec, list_response
from sandbox.fortnox_state import Company, FortnoxState


@dataclass(frozen=True)
class Register:
    """One register: its path, wrappers, key field and the fields a create may set."""

    resource: str
    list_key: str
    item_key: str
    key: str
    fields: dict[str, type]
    required: tuple[str, ...]
    what: str  # Fortnox's Swedish name, for "… finns redan"


REGISTERS: dict[str, Register] = {
    "wayofdeliveries": Register("wayofdeliveries", "WayOfDeliveries", "WayOfDelivery", "Code",
                                {"Code": str, "Description": str, "DescriptionEnglish": str}, ("Code",),
                                "Leveranssättet"),
    "termsofdeliveries": Register("termsofdeliveries", "TermsOfDeliveries", "TermsOfDelivery", "Code",
                                  {"Code": str, "Description": str, "DescriptionEnglish": str},
                                  ("Code", "Description"), "Leveransvillkoret"),
    "accounts": Register("accounts", "Accounts", "Account", "Number",
                         {"Number": int, "Description": str, "Active": bool, "VATCode": str, "SRU": int},
                         ("Number", "Description"), "Kontot"),
    "costcenters": Register("costcenters", "CostCenters", "CostCenter", "Code",
                            {"Code": str, "Description": str, "Active": bool, "Note": str},
                            ("Code", "Description"), "Kostnadsstället"),
    "projects": Register("projects", "Projects", "Project", "ProjectNumber",
                         {"ProjectNumber": str, "Description": str, "Status": str, "ProjectLeader": str,
                          "ContactPerson": str, "Comments": str, "StartDate": str, "EndDate": str},
                         ("Description",), "Projektet"),
}

#: what a new company holds in each register
DEFAULT_REGISTERS: dict[str, tuple[dict[str, Any], ...]] = {
    "wayofdeliveries": ({"Code": "P", "Description": "Post", "DescriptionEnglish": "Mail"},
                        {"Code": "BUD", "Description": "Bud", "DescriptionEnglish": "Courier"}),
    "termsofdeliveries": ({"Code": "FVL", "Description": "Fritt vårt lager", "DescriptionEnglish": "Ex works"},
                          {"Code": "FK", "Description": "Fritt kund", "DescriptionEnglish": "Free delivered"}),
    "accounts": (
        {"Number": 1510, "Description": "Kundfordringar", "Active": True, "VATCode": "", "SRU": 7251},
        {"Number": 3001, "Description": "Försäljning inom Sverige, 25 % moms", "Active": True,
         "VATCode": "MP1", "SRU": 7410},
        {"Number": 3002, "Description": "Försäljning inom Sverige, 12 % moms", "Active": True,
         "VATCode": "MP2", "SRU": 7410},
        {"Number": 3003, "Description": "Försäljning inom Sverige, 6 % moms", "Active": True,
         "VATCode": "MP3", "SRU": 7410},
        {"Number": 3004, "Description": "Försäljning inom Sverige, momsfri", "Active": True, "VATCode": "",
         "SRU": 7410},
        {"Number": 3305, "Description": "Försäljning tjänster till land utanför EU", "Active": True,
         "VATCode": "", "SRU": 7410},
        {"Number": 3308, "Description": "Försäljning tjänster till annat EU-land", "Active": True,
         "VATCode": "", "SRU": 7410},
        {"Number": 4010, "Description": "Inköp material och varor", "Active": True, "VATCode": "", "SRU": 7512},
    ),
    "costcenters": ({"Code": "SALJ", "Description": "Försäljning", "Active": True, "Note": ""},),
    "projects": ({"ProjectNumber": "1", "Description": "Allmänt", "Status": "ONGOING"},),
}

#: a customer field -> the register its code must be in
CUSTOMER_CODES = {"WayOfDelivery": "wayofdeliveries", "TermsOfDelivery": "termsofdeliveries",
                  "CostCenter": "costcenters", "Project": "projects", "SalesAccount": "accounts"}


def register_items(company: Company, name: str) -> dict[str, dict[str, Any]]:
    """The company's register `name` by key, made from `DEFAULT_REGISTERS` on first use."""
    registers = company.registers
    if name not in registers:
        key = REGISTERS[name].key
        registers[name] = {str(item[key]): dict(item) for item in DEFAULT_REGISTERS[name]}
    return registers[name]


def check_customer_codes(company: Company, fields: dict[str, Any]) -> None:
    """Refuse a customer whose way or terms of delivery, cost center, project or sales account its
    company does not have."""
    for field, name in CUSTOMER_CODES.items():
        value = fields.get(field)
        if value and str(value) not in register_items(company, name):
            raise FortnoxError("INVALID_VALUE", field=field)


class RegisterRoutes:
    """GET (list) and POST (create) for each register."""

    def __init__(self, state: FortnoxState) -> None:
        self.state = state

    def routes(self) -> list[tuple[str, tuple[str, ...], Callable[..., Response]]]:
        routes: list[tuple[str, tuple[str, ...], Callable[..., Response]]] = []
        for name in REGISTERS:
            routes.append((f"/3/{name}", ("GET",), self._lister(name)))
            routes.append((f"/3/{name}", ("POST",), self._creator(name)))
        routes.append(("/3/wayofdeliveries/<Code>", ("GET",), self._way_of_delivery))
        return routes

    def _way_of_delivery(self, request: Request, company: Company, Code: str) -> Response:
        item = register_items(company, "wayofdeliveries").get(Code)
        if item is None:
            raise FortnoxError("WAY_OF_DELIVERY_NOT_FOUND", code=Code)
        return json_response({"WayOfDelivery": self._render(REGISTERS["wayofdeliveries"], item, base_url(request))})

    def _render(self, register: Register, item: dict[str, Any], base: str) -> dict[str, Any]:
        return {"@url": f"{base}/3/{register.resource}/{item[register.key]}", **item}

    def _lister(self, name: str) -> Callable[..., Response]:
        register = REGISTERS[name]
        key = register.key
        numeric = register.fields[key] is int
        spec = ListSpec(register.list_key, search={}, default_sort=key.lower(),
                        sorts={key.lower(): (lambda i: int(i[key])) if numeric else (lambda i: str(i[key]))})
        if name == "accounts":
            spec = ListSpec(register.list_key, search={}, default_sort="number",
                            sorts={"number": lambda i: int(i["Number"])})

        def handler(request: Request, company: Company) -> Response:
            base = base_url(request)
            return list_response(request, self.state.today, register_items(company, name).values(), spec,
                                 lambda item: self._render(register, item, base))

        return handler

    def _creator(self, name: str) -> Callable[..., Response]:
        register = REGISTERS[name]

        def handler(request: Request, company: Company) -> Response:
            payload = read_payload(request, register.item_key)
            fields: dict[str, Any] = {}
            for field, value in payload.items():
                if field == "@url" or value is None:
                    continue
                kind = register.fields.get(field)
                if kind is None:
                    raise FortnoxError("INVALID_FIELD", field=field)
                if kind is bool and not isinstance(value, bool):
                    raise FortnoxError("MUST_BE_BOOLEAN", field=field)
                if kind is int and (isinstance(value, bool) or not str(value).isdigit()):
                    raise FortnoxError("MUST_BE_NUMERIC", field=field)
                fields[field] = int(value) if kind is int else value if kind is bool else str(value)
            items = register_items(company, name)
            if name == "projects" and not fields.get("ProjectNumber"):
                numbers = [int(n) for n in items if n.isdigit()]
                fields["ProjectNumber"] = str(max(numbers, default=0) + 1)
            for field in register.required:
                if fields.get(field) in (None, ""):
                    raise FortnoxError("FIELD_REQUIRED", field=field)
            if name == "projects":
                fields.setdefault("Status", "NOTSTARTED")
                if fields["Status"] not in ("NOTSTARTED", "ONGOING", "COMPLETED"):
                    raise FortnoxError("INVALID_VALUE", field="Status")
            if name == "accounts":
                if not 1000 <= fields["Number"] <= 9999:
                    raise FortnoxError("INVALID_VALUE", field="Number")
                fields.setdefault("Active", True)
            if name == "costcenters":
                fields.setdefault("Active", True)
            code = str(fields[register.key])
            if code in items:
                raise FortnoxError("ALREADY_EXISTS", what=register.what, code=code)
            items[code] = fields
            return json_response({register.item_key: self._render(register, fields, base_url(request))},
                                 status=201)

        return handler

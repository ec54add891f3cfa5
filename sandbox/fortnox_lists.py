"""How the Fortnox simulator's list endpoints search, filter, sort and page, as Fortnox lists do.

Searches are case-insensitive substring matches and combine with `filter` (both must match); one
`filter` at a time. `unpaid` and `unpaidoverdue` cover booked invoices with a balance (partly paid
included); drafts are `unbooked`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox.common import json_response
from sandbox.fortnox_errors import FortnoxError
from sandbox.fortnox_fields import natural_key


@dataclass(frozen=True)
class ListSpec:
    """How a list endpoint searches, filters and sorts."""

    wrapper: str
    search: Mapping[str, Callable[[dict[str, Any]], Any]]
    sorts: Mapping[str, Callable[[dict[str, Any]], Any]]
    default_sort: str
    filters: Mapping[str, Callable[[dict[str, Any], date], bool]] = field(default_factory=dict)
    flags: Mapping[str, Callable[[dict[str, Any]], bool]] = field(default_factory=dict)
    date_ranges: Mapping[str, tuple[str, str]] = field(default_factory=dict)


def _unpaid(invoice: dict[str, Any]) -> bool:
    return bool(invoice["Booked"]) and not invoice["Cancelled"] and invoice["Balance"] != 0


#: `unpaid` (a decision): booked, not cancelled, with a balance, partly paid ones included
INVOICE_FILTERS: dict[str, Callable[[dict[str, Any], date], bool]] = {
    "cancelled": lambda doc, today: bool(doc["Cancelled"]),
    "fullypaid": lambda doc, today: bool(doc["Booked"]) and not doc["Cancelled"] and doc["Balance"] == 0,
    "unpaid": lambda doc, today: _unpaid(doc),
    "unpaidoverdue": lambda doc, today: _unpaid(doc) and date.fromisoformat(doc["DueDate"]) < today,
    "unbooked": lambda doc, today: not doc["Booked"] and not doc["Cancelled"],
}


#: `expired` (a decision): the delivery date has passed and no invoice was made from the order
ORDER_FILTERS: dict[str, Callable[[dict[str, Any], date], bool]] = {
    "cancelled": lambda doc, today: bool(doc["Cancelled"]),
    "expired": lambda doc, today: (
        not doc["Cancelled"]
        and not doc["InvoiceReference"]
        and bool(doc["DeliveryDate"])
        and date.fromisoformat(doc["DeliveryDate"]) < today
    ),
    "invoicecreated": lambda doc, today: bool(doc["InvoiceReference"]) and not doc["Cancelled"],
    "invoicenotcreated": lambda doc, today: not doc["InvoiceReference"] and not doc["Cancelled"],
}


ACTIVE_FILTERS: dict[str, Callable[[dict[str, Any], date], bool]] = {
    "active": lambda item, today: item.get("Active") is not False,
    "inactive": lambda item, today: item.get("Active") is False,
}


def _getter(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda item: item.get(name)


def _rows_getter(rows_key: str, name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda doc: " ".join(str(row.get(name) or "") for row in doc[rows_key])


def _document_search(extra: Iterable[str]) -> dict[str, Callable[[dict[str, Any]], Any]]:
    search = {
        name.lower(): _getter(name)
        for name in (
            "CustomerNumber",
            "CustomerName",
            "DocumentNumber",
            "ExternalInvoiceReference1",
            "ExternalInvoiceReference2",
            "YourReference",
            "OurReference",
            "Project",
            "CostCenter",
            *extra,
        )
    }
    search["label"] = lambda doc: " ".join(str(label.get("Id")) for label in doc.get("Labels") or [])
    return search


CUSTOMER_LIST = ListSpec(
    "Customers",
    search={
        "customernumber": _getter("CustomerNumber"),
        "name": _getter("Name"),
        "zipcode": _getter("ZipCode"),
        "city": _getter("City"),
        "email": _getter("Email"),
        "phone": lambda c: f"{c.get('Phone1') or ''} {c.get('Phone2') or ''}",
        "organisationnumber": _getter("OrganisationNumber"),
        "gln": _getter("GLN"),
        "glndelivery": _getter("GLNDelivery"),
    },
    sorts={
        "customernumber": lambda c: natural_key(c["CustomerNumber"]),
        "name": lambda c: (c["Name"] or "").lower(),
    },
    default_sort="customernumber",
    filters=ACTIVE_FILTERS,
)


ARTICLE_LIST = ListSpec(
    "Articles",
    search={
        "articlenumber": _getter("ArticleNumber"),
        "description": _getter("Description"),
        "ean": _getter("EAN"),
        "suppliernumber": _getter("SupplierNumber"),
        "manufacturer": _getter("Manufacturer"),
        "manufacturerarticlenumber": _getter("ManufacturerArticleNumber"),
    },
    sorts={
        "articlenumber": lambda a: natural_key(a["ArticleNumber"]),
        "quantityinstock": lambda a: a.get("QuantityInStock") or 0,
        "reservedquantity": lambda a: 0,
        "stockvalue": lambda a: 0,
    },
    default_sort="articlenumber",
    filters=ACTIVE_FILTERS,
    flags={"webshop": lambda a: bool(a.get("WebshopArticle"))},
)


INVOICE_LIST = ListSpec(
    "Invoices",
    search={
        **_document_search(("OCR", "YourOrderNumber", "Currency", "InvoiceType")),
        "articlenumber": _rows_getter("InvoiceRows", "ArticleNumber"),
        "articledescription": _rows_getter("InvoiceRows", "Description"),
    },
    sorts={
        "customername": lambda d: (d["CustomerName"] or "").lower(),
        "customernumber": lambda d: natural_key(d["CustomerNumber"]),
        "documentnumber": lambda d: int(d["DocumentNumber"]),
        "invoicedate": lambda d: d["InvoiceDate"],
        "ocr": lambda d: d["OCR"] or "",
        "total": lambda d: d["Total"],
    },
    default_sort="documentnumber",
    filters=INVOICE_FILTERS,
    flags={
        "sent": lambda d: bool(d["Sent"]),
        "notcompleted": lambda d: bool(d.get("NotCompleted")),
        "credit": lambda d: d.get("Credit") == "true",
    },
    date_ranges={
        "fromdate": ("InvoiceDate", ">="),
        "todate": ("InvoiceDate", "<="),
        "fromfinalpaydate": ("FinalPayDate", ">="),
        "tofinalpaydate": ("FinalPayDate", "<="),
    },
)


ORDER_LIST = ListSpec(
    "Orders",
    search={**_document_search(("OrderType",))},
    sorts={
        "customername": lambda d: (d["CustomerName"] or "").lower(),
        "customernumber": lambda d: natural_key(d["CustomerNumber"]),
        "orderdate": lambda d: d["OrderDate"],
        "documentnumber": lambda d: int(d["DocumentNumber"]),
        "total": lambda d: d["Total"],
    },
    default_sort="documentnumber",
    filters=ORDER_FILTERS,
    flags={"sent": lambda d: bool(d["Sent"]), "notcompleted": lambda d: bool(d.get("NotCompleted"))},
    date_ranges={"fromdate": ("OrderDate", ">="), "todate": ("OrderDate", "<=")},
)


PRICE_LIST_SPEC = ListSpec(
    "Prices",
    search={"articlenumber": _getter("ArticleNumber"), "pricelist": _getter("PriceList")},
    sorts={"articlenumber": lambda p: (natural_key(p["ArticleNumber"]), p["PriceList"], p["FromQuantity"])},
    default_sort="articlenumber",
)


def code_list(wrapper: str) -> ListSpec:
    return ListSpec(
        wrapper,
        search={"code": _getter("Code")},
        sorts={"code": lambda i: natural_key(i["Code"])},
        default_sort="code",
    )


def list_response(
    request: Request,
    today: Callable[[], date],
    items: Iterable[dict[str, Any]],
    spec: ListSpec,
    render: Callable[[dict[str, Any]], dict[str, Any]],
) -> Response:
    """Search (substring, any case), one filter, flags, date ranges, sort and paging, as Fortnox lists."""
    args = request.args
    selected = list(items)
    for param, getter in spec.search.items():
        needle = args.get(param)
        if needle:
            selected = [item for item in selected if needle.lower() in str(getter(item) or "").lower()]
    filters = args.getlist("filter")
    if len(filters) > 1:
        raise FortnoxError("INVALID_PARAMETER", parameter="filter (one filter at a time)")
    if filters:
        check = spec.filters.get(filters[0].lower())
        if check is None:
            raise FortnoxError("INVALID_PARAMETER", parameter=f"filter={filters[0]}")
        day = today()
        selected = [item for item in selected if check(item, day)]
    for param, flag in spec.flags.items():
        if param in args:
            wanted = args[param].lower()
            if wanted not in ("true", "false"):
                raise FortnoxError("INVALID_PARAMETER", parameter=param)
            selected = [item for item in selected if flag(item) == (wanted == "true")]
    for param, (field_name, op) in spec.date_ranges.items():
        if param in args:
            bound = args[param]
            try:
                date.fromisoformat(bound)
            except ValueError as exc:
                raise FortnoxError("INVALID_PARAMETER", parameter=param) from exc
            selected = [
                item
                for item in selected
                if item.get(field_name)
                and (item[field_name] >= bound if op == ">=" else item[field_name] <= bound)
            ]
    if "lastmodified" in args:
        since = _parse_lastmodified(args["lastmodified"])
        selected = [item for item in selected if item.get("_modified", "") >= since]
    sortby = args.get("sortby", spec.default_sort).lower()
    if sortby not in spec.sorts:
        raise FortnoxError("INVALID_PARAMETER", parameter=f"sortby={sortby}")
    order = args.get("sortorder", "ascending").lower()
    if order not in ("ascending", "descending", "asc", "desc"):
        raise FortnoxError("INVALID_PARAMETER", parameter=f"sortorder={order}")
    selected.sort(key=spec.sorts[sortby], reverse=order.startswith("desc"))
    limit = _int_param(args, "limit", 100, 1, 500)
    page = _int_param(args, "page", 1, 1, None)
    offset = _int_param(args, "offset", 0, 0, None)
    start = (page - 1) * limit + offset
    window = selected[start : start + limit]
    meta = {
        "@TotalResources": len(selected),
        "@TotalPages": math.ceil(len(selected) / limit),
        "@CurrentPage": page,
    }
    return json_response({spec.wrapper: [render(item) for item in window], "MetaInformation": meta})


def _int_param(args: Mapping[str, str], name: str, default: int, low: int, high: int | None) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
        raise FortnoxError("INVALID_PARAMETER", parameter=f"{name}={raw}")
    return int(raw)


def _parse_lastmodified(raw: str) -> str:
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(raw, pattern).strftime("%Y-%m-%d %H:%M:%S")
        except ValueError:
            continue
    raise FortnoxError("INVALID_PARAMETER", parameter=f"lastmodified={raw}")

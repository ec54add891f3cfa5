"""The settings page and its JSON API: a portal's sync settings, and the choices the page offers.

    GET  /settings                              the page (`?login=` first signs a browser in from the
                                                card's link); `settings_page_router`
    GET  /settings/static/{path}                the layer's static files (`hubnox.web.static`)

The JSON API, `settings_api_router`:

    GET  /settings/api/settings                 {"version", "saved", "settings"}
    PUT  /settings/api/settings                 body {"version", "settings"} -> {"version", "saved", "settings"}
    GET  /settings/api/hubspot/pipelines        deal pipelines with their stages (ids to store, labels to show)
    GET  /settings/api/hubspot/properties/{objectType}  properties of deals, line items, companies or contacts
    POST /settings/api/hubspot/properties/{objectType}  body {"label", "name"?, "fortnoxField"} -> 201
                                                {"property": {"name", "label", "type"}}: a company or
                                                contact property in hubnox's group, made to fill that
                                                Fortnox customer field; 409 PROPERTY_EXISTS if the name is taken
    GET  /settings/api/fortnox/options          terms of payment, currencies, price lists, print templates
    GET  /settings/api/fortnox/options          the Fortnox lists new customers' defaults come from: terms
                                                of payment, currencies, price lists, print templates, VAT
                                                types, ways and terms of delivery, sales accounts, cost
                                                centers, projects (`unavailable`: lists Fortnox refused)
    GET  /settings/api/runs?limit=N             the portal's newest runs (20, at most 100), newest first,
                                                with the sync log's filters and paging (`hubnox.services.sync_log`)
    POST /settings/api/logout                   ends this browser's session and clears its cookie

Export and import of the settings (`/settings/api/settings/export`, `.../import/preview`, `.../import`)
live in `hubnox.services.settings_transfer`.

Every route needs the settings session (its cookie names the portal); the PUT and the POSTs also
need the session's CSRF token (`X-CSRF-Token`) and hubnox's own origin. A PUT never brings back a portal
whose data was deleted: it answers 404 `PORTAL_GONE` and writes nothing. `version` is the version the page
read (0 before the first save): a save over a newer version answers 409 with the stored version,
so two admins editing at once cannot silently undo each other. Invalid settings answer 400 with
a message naming every wrong field, and `errors`: `[{"field": "articles.policy", "message": ...}]`
so the page can show each message beside its field; so do values the connected Fortnox company does
not have (`hubnox.services.settings_check`). The page shows, next to the Fortnox connection, which
features its scopes and licences leave out (`hubnox.services.connection_health`). Other errors are answered by
`register_error_handlers` of the function that includes this router.

`settings_choices()` gives the page the fixed choices of every option, read from the
`PortalSettings` model itself, so a value the model gains appears on the page (with the label
`CHOICE_LABELS` must then give it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from types import UnionType
from typing import Any, Literal, Protocol, Union, get_args, get_origin

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ValidationError

from hubnox.config import AppConfig
from hubnox.errors import BadRequestError, NotFoundError, UnauthorizedError
from hubnox.fortnox.client import FortnoxClient
from hubnox.fortnox.errors import FortnoxError
from hubnox.fortnox.scopes import lacks_payment_scope
from hubnox.hubspot import properties as app_properties
from hubnox.hubspot.client import HubSpotClient
from hubnox.jobs import Submit
from hubnox.observability import logger
from hubnox.records import Run, RunRequest
from hubnox.services.connection_health import ConnectionHealthService
from hubnox.services.install import STATE_TTL_SECONDS, ConnectionService, PortalDeletion, uninstalled_refusal
from hubnox.services.settings_check import fortnox_field_errors
from hubnox.signing import Signer
from hubnox.store.connections import ConnectionStore
from hubnox.store.portal_settings import PortalGone, SettingsStore, StaleVersion
from hubnox.store.portals import PortalDataStore
from hubnox.store.runs import RunStore
from hubnox.store.sessions import SessionStore
from hubnox.sync.portal_settings import (
    CUSTOMER_FIELDS,
    FORTNOX_VAT_RATES,
    ArticleDefaults,
    ArticleSettings,
    CompanyMatchRule,
    ContactMatchRule,
    CustomerDefaults,
    CustomerNumberRule,
    PortalSettings,
    TriggerStage,
    migrate,
    parse_settings,
)
from hubnox.web.render import render
from hubnox.web.responses import body_text, json_object, json_response, json_value, page, redirect
from hubnox.web.session import (
    LOGIN_COOKIE,
    RequestSessions,
    browser_secret_cookie,
    cleared_session_cookie,
    read_session,
)
from hubnox.web.static import static_file

PREFIX = "/settings/api"
#: object types whose properties the page maps, as the page names them -> HubSpot's
PROPERTY_OBJECTS = {"deals": "deals", "line_items": "line_items", "companies": "companies",
                    "contacts": "contacts"}
#: object types whose field mappings may create a property (HubSpot's names) -> a record's name in messages
MAPPED_OBJECTS = {"companies": "company", "contacts": "contact"}
#: the longest label hubnox gives a property it creates (HubSpot shows labels in narrow columns)
PROPERTY_LABEL_MAX = 100
#: a custom property's internal name: HubSpot's rule, without its reserved `hs_` prefix
_NEW_PROPERTY_NAME = re.compile(r"(?!hs_)[a-z][a-z0-9_]{0,99}")
#: document types whose Fortnox print templates the page offers
PRINT_TEMPLATE_TYPES = ("invoice", "order", "offer")
#: the recent-runs list: how many runs by default and at most
RECENT_RUNS_DEFAULT, RECENT_RUNS_MAX = 20, 100
#: updated and skipped products the page lists under a product sync's summary
PRODUCT_SYNC_DETAILS = 10
#: Replay links on the settings page are for the admin looking at it now, not for passing around
PAGE_REPLAY_TTL_SECONDS = 3600

#: settings path -> the model field whose Literal (or enum) values are that option's choices
CHOICE_FIELDS: dict[str, tuple[type[BaseModel], str]] = {
    "default_document_type": (PortalSettings, "default_document_type"),
    "trigger_stages.document_type": (TriggerStage, "document_type"),
    "company_match.fortnox_field": (CompanyMatchRule, "fortnox_field"),
    "company_match.when_value_missing": (CompanyMatchRule, "when_value_missing"),
    "contact_match.fortnox_field": (ContactMatchRule, "fortnox_field"),
    "contact_match.when_value_missing": (ContactMatchRule, "when_value_missing"),
    "customer_number.source": (CustomerNumberRule, "source"),
    "customer_defaults.vat_type": (CustomerDefaults, "vat_type"),
    "customer_defaults.customer_type": (CustomerDefaults, "customer_type"),
    "customer_defaults.default_delivery_type": (CustomerDefaults, "default_delivery_type"),
    "articles.policy": (ArticleSettings, "policy"),
    "articles.defaults.type": (ArticleDefaults, "type"),
    "no_line_items": (PortalSettings, "no_line_items"),
}
_DOCUMENT_TYPES = {"invoice": "Invoice", "order": "Order"}
#: what the page says for each choice; Fortnox field names (match rules) are labelled by `field_label`
CHOICE_LABELS: dict[str, dict[str, str]] = {
    "default_document_type": _DOCUMENT_TYPES,
    "trigger_stages.document_type": _DOCUMENT_TYPES,
    "company_match.when_value_missing": {
        "create": "Create a new customer without the value (linked to the company for its later deals)",
        "match_name": "Use the one Fortnox customer with the same name, else create one",
        "fail": "Stop and say so in the note",
    },
    "contact_match.when_value_missing": {
        "create": "Create a new customer without the value (linked to the contact for its later deals)",
        "match_name": "Use the one Fortnox customer with the same name, else create one",
        "fail": "Stop and say so in the note",
    },
    "customer_number.source": {
        "fortnox": "Fortnox numbers new customers",
        "hubspot_property": "Take the number from a HubSpot property",
    },
    "customer_defaults.vat_type": {
        "SEVAT": "Swedish VAT (SEVAT)",
        "SEREVERSEDVAT": "Swedish reverse charge (SEREVERSEDVAT)",
        "EUREVERSEDVAT": "EU reverse charge (EUREVERSEDVAT)",
        "EUVAT": "EU VAT (EUVAT)",
        "EXPORT": "Export, outside the EU (EXPORT)",
    },
    "customer_defaults.customer_type": {
        "auto": "By record: company or private",
        "COMPANY": "Always company customers",
        "PRIVATE": "Always private customers",
    },
    "customer_defaults.default_delivery_type": {
        "PRINT": "Print (PRINT)",
        "EMAIL": "Email (EMAIL)",
        "PRINTSERVICE": "Fortnox print service (PRINTSERVICE)",
    },
    "articles.policy": {
        "skip": "Make no document, and list every missing article in the note",
        "placeholder": "Bill the line on the placeholder article, keeping its own name and price",
        "create": "Create the article in Fortnox (the SKU as its number) with the line's price",
    },
    "articles.defaults.type": {"SERVICE": "Service", "STOCK": "Stock item"},
    "no_line_items": {
        "fail": "Make no document, and say so in the note",
        "placeholder_row": "Bill the deal's amount as one row on the placeholder article",
    },
}
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z][a-z]+|\d+")


@dataclass(frozen=True)
class Choice:
    """One value an option can take, with the words the page shows for it."""

    value: str
    label: str


def field_label(fortnox_field: str) -> str:
    """A Fortnox customer field as the page names it: `VATNumber` -> `VAT number`, `Email`.

    Words only, without Fortnox's own name beside them: a closed select shows its choice on one
    line, and `Organisation number (OrganisationNumber)` did not fit a 360 px frame."""
    words = _WORDS.findall(fortnox_field) or [fortnox_field]
    return " ".join([words[0], *(w if w.isupper() else w.lower() for w in words[1:])])


def literal_values(model: type[BaseModel], field: str) -> tuple[str, ...]:
    """The values a Literal or enum field of `model` accepts (None left out), in declared order."""
    annotation = model.model_fields[field].annotation
    parts = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    values: list[str] = []
    for part in parts:
        if get_origin(part) is Literal:
            values += [str(value) for value in get_args(part)]
        elif isinstance(part, type) and issubclass(part, Enum):
            values += [str(member.value) for member in part]
    return tuple(values)


def settings_choices() -> dict[str, list[Choice]]:
    """The fixed choices of every option the page offers as a list, by settings path.

    Also `customer_fields` (the Fortnox customer fields a mapping may fill) and `articles.defaults.vat`.
    A value without a label in `CHOICE_LABELS` raises KeyError: the page must never show a bare code.
    """
    choices: dict[str, list[Choice]] = {}
    for path, (model, field) in CHOICE_FIELDS.items():
        labels = CHOICE_LABELS.get(path)
        choices[path] = [Choice(value, labels[value] if labels is not None else field_label(value))
                         for value in literal_values(model, field)]
    choices["customer_fields"] = [Choice(name, field_label(name)) for name in CUSTOMER_FIELDS]
    choices["articles.defaults.vat"] = [Choice(str(rate), f"{rate} %") for rate in FORTNOX_VAT_RATES]
    return choices


def field_errors(body: str | None) -> list[dict[str, str]]:
    """Each problem of the settings in a PUT body, as `{"field": "a.b", "message": ...}` (empty when
    the body's settings are not an object: the message already says so)."""
    try:
        data = json_value(body)
    except ValueError:
        return []
    settings = data.get("settings") if isinstance(data, dict) else None
    if not isinstance(settings, dict):
        return []
    try:
        PortalSettings.model_validate(settings)
    except ValidationError as error:
        return [{"field": ".".join(str(part) for part in item["loc"]),
                 "message": str(item["msg"]).removeprefix("Value error, ")} for item in error.errors()]
    return []


def _iso(moment: float | None) -> str | None:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds") if moment is not None else None


def run_summary(run: Run, replay: str | None = None) -> dict[str, Any]:
    """What the recent-runs list shows of a run; `replay` is a signed Replay link, if offered."""
    return {
        "runId": run.run_id, "kind": run.kind, "trigger": run.trigger, "status": run.status,
        "objectType": run.object_type, "objectId": run.object_id,
        "documentType": run.result.get("document_type") or run.document_type,
        "documentNumber": run.result.get("document_number"),
        "attempts": run.attempts, "createdAt": _iso(run.created_at), "finishedAt": _iso(run.finished_at),
        "errorCode": run.error_code, "errorMessage": run.error_message, "replayUrl": replay,
        "productSync": product_sync_summary(run) if run.kind == "sync_products" else None,
        "delivery": run.delivery, "notTold": not_told(run),
    }


#: what each step of a run's outcome tells, in the admin's words (`hubnox.sync.delivery`)
OUTCOME_STEPS = {"note": "the note", "properties": "the deal's Fortnox properties",
                 "write_back": "the customer number on the record", "callback": "the workflow's answer"}


def not_told(run: Run) -> list[str]:
    """The outcome steps hubnox gave up telling in HubSpot, in words (the page flags them)."""
    return [OUTCOME_STEPS.get(key.removeprefix("gave_up:"), key.removeprefix("gave_up:"))
            for key in run.progress if key.startswith("gave_up:")]


def product_sync_summary(run: Run) -> dict[str, Any] | None:
    """What a finished product sync did, for the page: its one-line summary and the first products
    it updated or skipped, each in a line (amounts as `hubnox.money.format_money` wrote them)."""
    result = run.result or {}
    if "summary" not in result:
        return None
    details = [f"{item.get('article_number')}: {'; '.join(item.get('changes') or [])}"
               for item in result.get("updated") or []]
    details += [f"{item.get('name') or item.get('product_id')}: skipped, {item.get('message')}"
                for item in result.get("skipped") or []]
    return {"summary": result["summary"], "counts": result.get("counts") or {},
            "details": details[:PRODUCT_SYNC_DETAILS], "moreDetails": max(0, len(details) - PRODUCT_SYNC_DETAILS)}


def superseded(runs: list[Run]) -> set[str]:
    """The ids of failed runs that a later run for the same record and trigger made good: their
    Replay is withdrawn (runs are a page of the log, at most `RECENT_RUNS_MAX`)."""
    return {run.run_id for run in runs if run.status == "failed" and run.trigger_key and any(
        later.status == "succeeded" and later.run_id > run.run_id
        and (later.object_id, later.trigger_key) == (run.object_id, run.trigger_key) for later in runs)}


def recent_runs_limit(query: dict[str, str] | None) -> int:
    """The `limit` query parameter, between 1 and RECENT_RUNS_MAX; 400 when it is not a number."""
    raw = (query or {}).get("limit")
    if raw is None:
        return RECENT_RUNS_DEFAULT
    if not re.fullmatch(r"[0-9]{1,9}", raw):
        raise BadRequestError("limit must be a whole number.", code="INVALID")
    return min(max(int(raw), 1), RECENT_RUNS_MAX)


@dataclass(frozen=True)
class NewProperty:
    """A HubSpot property the admin asks for from a field mapping row."""

    name: str
    label: str
    fortnox_field: str


def property_name_for(label: str) -> str:
    """The internal name HubSpot would suggest for `label`: `Org. nr (Sverige)` -> `org_nr_sverige`
    (Swedish letters lose their dots and rings, a leading digit gets a `p_`)."""
    plain = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().lower()
    name = re.sub(r"[^a-z0-9]+", "_", plain).strip("_")[:100]
    if name and not name[0].isalpha():
        name = f"p_{name}"[:100]
    return f"x_{name}"[:100] if name.startswith("hs_") else name


def read_new_property(body: dict[str, Any]) -> NewProperty:
    """The property a POST asks for; 400 naming what is wrong (label, name or Fortnox field)."""
    label = body.get("label")
    if not isinstance(label, str) or not label.strip():
        raise BadRequestError("label: give the new property a label, e.g. \"Organisation number\".",
                              code="INVALID_PROPERTY")
    label = " ".join(label.split())
    if len(label) > PROPERTY_LABEL_MAX:
        raise BadRequestError(f"label: at most {PROPERTY_LABEL_MAX} characters.", code="INVALID_PROPERTY")
    name = body.get("name")
    if name is None or name == "":
        name = property_name_for(label)
    if not isinstance(name, str) or not _NEW_PROPERTY_NAME.fullmatch(name):
        raise BadRequestError("name: an internal name is lower-case letters, digits and underscores, starts "
                              "with a letter, has at most 100 characters and does not start with hs_ "
                              "(HubSpot's own).", code="INVALID_PROPERTY")
    fortnox_field = body.get("fortnoxField")
    if fortnox_field not in CUSTOMER_FIELDS:
        raise BadRequestError("fortnoxField: name the Fortnox customer field the property fills (one of "
                              f"{', '.join(CUSTOMER_FIELDS)}).", code="INVALID_PROPERTY")
    return NewProperty(name=name, label=label, fortnox_field=str(fortnox_field))
def customer_default_options(fortnox: FortnoxClient) -> dict[str, Any]:
    """The lists new customers' other defaults are chosen from: VAT types (Fortnox's fixed list), ways
    and terms of delivery, sales accounts (3000-3999), cost centers and projects of the company.

    A list Fortnox refuses (a connection made before hubnox asked for the bookkeeping, cost center
    and project scopes, or a company without the licence) is left empty and named in `unavailable`
    with Fortnox's reason, so the rest of the page still gets its lists.
    """
    labels = CHOICE_LABELS["customer_defaults.vat_type"]
    options: dict[str, Any] = {
        "vatTypes": [{"code": code, "description": labels[code]}
                     for code in literal_values(CustomerDefaults, "vat_type")],
    }
    unavailable: dict[str, str] = {}
    readers: dict[str, Callable[[], list[dict[str, Any]]]] = {
        "waysOfDelivery": lambda: [{"code": w.code, "description": w.description}
                                   for w in fortnox.ways_of_delivery()],
        "termsOfDelivery": lambda: [{"code": t.code, "description": t.description}
                                    for t in fortnox.terms_of_delivery()],
        "salesAccounts": lambda: [{"code": str(a.number), "description": a.description}
                                  for a in fortnox.sales_accounts()],
        "costCenters": lambda: [{"code": c.code, "description": c.description} for c in fortnox.cost_centers()],
        "projects": lambda: [{"code": p.project_number, "description": p.description} for p in fortnox.projects()],
    }
    for name, read in readers.items():
        try:
            options[name] = read()
        except FortnoxError as refused:
            options[name] = []
            unavailable[name] = refused.message
    options["unavailable"] = unavailable
    return options


class SettingsApiPorts(Protocol):
    """What the settings page and its API need (`hubnox.wiring.Container` provides it)."""

    config: AppConfig

    @property
    def signer(self) -> Signer: ...

    @property
    def portal_settings(self) -> SettingsStore: ...

    @property
    def runs(self) -> RunStore: ...

    @property
    def portal_data(self) -> PortalDataStore: ...

    @property
    def portal_deletion(self) -> PortalDeletion: ...

    @property
    def sessions(self) -> SessionStore: ...

    @property
    def submit(self) -> Submit: ...

    @property
    def connection_service(self) -> ConnectionService: ...

    @property
    def connections(self) -> ConnectionStore: ...

    def hubspot_client(self, portal_id: str) -> HubSpotClient: ...

    def fortnox_client(self, portal_id: str) -> FortnoxClient: ...

    @property
    def connection_health(self) -> ConnectionHealthService: ...


def connected_fortnox_problems(ports: SettingsApiPorts, portal_id: str,
                               settings: PortalSettings) -> list[dict[str, str]]:
    """The settings' values the portal's connected Fortnox company does not have (none without an
    active connection: nothing to check against; connecting later shows what Fortnox lacks)."""
    connection = ports.connections.get_fortnox(portal_id)
    if connection is None or connection.status != "active":
        return []
    return fortnox_field_errors(settings, ports.fortnox_client(portal_id))


def load_portal_settings(store: SettingsStore, portal_id: str) -> tuple[PortalSettings, int]:
    """A portal's settings (migrated to the current schema; defaults before the first save) and version."""
    payload, version = store.get(portal_id)
    return migrate(payload), version


def save_portal_settings(store: SettingsStore, portal_id: str, payload: dict[str, Any], version: int, *,
                         into: str, stale: str) -> int | Response:
    """Save `payload` over `version` of the portal's settings (a save or an import) and answer the new
    version, or the 409 `STALE_VERSION` answer (`stale` says what to do) when someone saved since;
    `NotFoundError` for a portal whose data is gone (`into` says what there is nothing to do)."""
    try:
        return store.put(portal_id, payload, version, require_install=True)
    except PortalGone as gone:
        raise NotFoundError(f"hubnox keeps no data for portal {portal_id} any more, so there is nothing to {into}.",
                            code="PORTAL_GONE", hint="Install hubnox again from HubSpot to start afresh.") from gone
    except StaleVersion as refused:
        return json_response({"message": stale, "code": "STALE_VERSION", "version": refused.actual or 0},
                             status=409)


def settings_body(settings: PortalSettings, version: int) -> dict[str, Any]:
    """The settings as the API answers them."""
    return {"version": version, "saved": version > 0, "settings": settings.model_dump(mode="json")}


def read_update(body: str | None) -> tuple[PortalSettings, int]:
    """The settings and the version they were edited from, out of a PUT body; 400 naming what is wrong."""
    try:
        data = json_value(body)
    except ValueError:
        raise BadRequestError("The body must be JSON: {\"version\": ..., \"settings\": {...}}.",
                              code="INVALID_SETTINGS") from None
    if not isinstance(data, dict):
        raise BadRequestError("The body must be a JSON object with version and settings.", code="INVALID_SETTINGS")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise BadRequestError("Invalid settings. version: must be the version the settings were read at "
                              "(0 before the first save).", code="INVALID_SETTINGS")
    settings = data.get("settings")
    if not isinstance(settings, dict):
        raise BadRequestError("Invalid settings. settings: must be an object.", code="INVALID_SETTINGS")
    return parse_settings(settings), version


def settings_api_router(ports: SettingsApiPorts) -> APIGatewayHttpRouter:
    """The settings API's routes, for `app.include_router` in the settings function."""
    router = APIGatewayHttpRouter()

    requests = RequestSessions(ports.signer, ports.sessions, router, ports.config.public_base)
    session, writer = requests.read, requests.write

    @router.get(f"{PREFIX}/settings")
    def get_app_config() -> Response:
        portal = session().portal_id
        settings, version = load_portal_settings(ports.portal_settings, portal)
        return json_response(settings_body(settings, version))

    @router.put(f"{PREFIX}/settings")
    def put_settings() -> Response:
        current = writer()
        body = body_text(router.current_event)
        try:
            settings, version = read_update(body)
        except BadRequestError as error:
            if error.code != "INVALID_SETTINGS":
                raise
            return invalid_settings(error, body)
        unknown = fortnox_problems(current.portal_id, settings)
        if unknown:
            fields = ", ".join(problem["field"] for problem in unknown)
            return invalid_settings(BadRequestError(
                f"Invalid settings. Fortnox does not have what {fields} names.", code="INVALID_SETTINGS"),
                body, unknown)
        payload = settings.model_dump(mode="json")
        saved = save_portal_settings(
            ports.portal_settings, current.portal_id, payload, version, into="save the settings to",
            stale="The settings were changed by someone else since you opened them. Reload the page to see "
                  "their version, then make your change again.")
        if isinstance(saved, Response):
            return saved
        return json_response(settings_body(settings, saved))

    @router.get(f"{PREFIX}/hubspot/pipelines")
    def pipelines() -> Response:
        hubspot = ports.hubspot_client(session().portal_id)
        return json_response({"pipelines": [
            {"id": p.id, "label": p.label,
             "stages": [{"id": s.id, "label": s.label} for s in p.stages if not s.archived]}
            for p in hubspot.pipelines("deals") if not p.archived
        ]})

    @router.get(f"{PREFIX}/hubspot/properties/<object_type>")
    def hubspot_properties(object_type: str) -> Response:
        if object_type not in PROPERTY_OBJECTS:
            raise BadRequestError(f"objectType must be one of {', '.join(PROPERTY_OBJECTS)}.", code="INVALID")
        hubspot = ports.hubspot_client(session().portal_id)
        found = hubspot.list_properties(PROPERTY_OBJECTS[object_type])
        return json_response({"properties": sorted(
            ({"name": p.get("name"), "label": p.get("label") or p.get("name"), "type": p.get("type")}
             for p in found if not p.get("hidden") and not p.get("archived")),
            key=lambda p: str(p["label"]).casefold())})

    @router.post(f"{PREFIX}/hubspot/properties/<object_type>")
    def create_hubspot_property(object_type: str) -> Response:
        current = writer()
        if object_type not in MAPPED_OBJECTS:
            raise BadRequestError(f"objectType must be one of {', '.join(MAPPED_OBJECTS)}: properties are "
                                  "created for company and contact field mappings.", code="INVALID")
        wanted = read_new_property(json_object(body_text(router.current_event)))
        kind = PROPERTY_OBJECTS[object_type]
        hubspot = ports.hubspot_client(current.portal_id)
        # The install made the group; an admin may have deleted it since, and HubSpot refuses a property
        # whose group is missing.
        hubspot.create_property_group(kind, app_properties.GROUP_NAME, app_properties.GROUP_LABEL)
        created = hubspot.add_property(kind, app_properties.mapping_property(wanted.name, wanted.label,
                                                                             wanted.fortnox_field))
        if created is None:
            return json_response({
                "message": f"HubSpot already has a {MAPPED_OBJECTS[object_type]} property named {wanted.name}. "
                           "Choose it in the list, or give the new property another name.",
                "code": "PROPERTY_EXISTS", "name": wanted.name,
            }, status=409)
        logger.info("hubspot property created", extra={"portal_id": current.portal_id, "object_type": kind,
                                                       "property": wanted.name})
        return json_response({"property": {"name": created.get("name") or wanted.name,
                                           "label": created.get("label") or wanted.label,
                                           "type": created.get("type") or "string"}}, status=201)

    @router.get(f"{PREFIX}/fortnox/options")
    def fortnox_options() -> Response:
        fortnox = ports.fortnox_client(session().portal_id)
        return json_response({
            "termsOfPayment": [{"code": t.code, "description": t.description} for t in fortnox.terms_of_payment()],
            "currencies": [{"code": c.code, "description": c.description} for c in fortnox.currencies()],
            "priceLists": [{"code": p.code, "description": p.description, "default": bool(p.pre_selected)}
                           for p in fortnox.price_lists()],
            "printTemplates": {kind: [{"template": t.template, "name": t.name}
                                      for t in fortnox.print_templates(kind)]
                               for kind in PRINT_TEMPLATE_TYPES},
            **customer_default_options(fortnox),
        })

    @router.post(f"{PREFIX}/products/sync")
    def sync_products() -> Response:
        current = writer()
        run = ports.submit(RunRequest(portal_id=current.portal_id, kind="sync_products", trigger="settings"))
        return json_response({"runId": run.run_id, "status": run.status,
                              "message": "Products are being synced to Fortnox articles; see Recent runs."},
                             status=202)

    @router.delete(f"{PREFIX}/portal")
    def delete_portal() -> Response:
        current = writer()
        body = json_object(body_text(router.current_event))
        if str(body.get("confirm", "")) != current.portal_id:
            raise BadRequestError(f"To delete everything hubnox keeps for portal {current.portal_id}, send "
                                  f'{{"confirm": "{current.portal_id}"}}.', code="CONFIRM")
        # The same deletion as the retention purge's: Fortnox's grant revoked, every session ended, then the data.
        deleted = ports.portal_deletion.delete(current.portal_id)
        gone = cleared_session_cookie()
        answer = json_response({"deleted": deleted, "message": "hubnox's data for this portal is deleted. "
                                "Uninstall the app in HubSpot too, or install it again to start afresh."})
        answer.cookies.append(gone)
        return answer

    @router.post(f"{PREFIX}/logout")
    def logout() -> Response:
        current = writer()
        ports.sessions.end(current.session_id, current.expires_at)  # this browser only; other admins stay in
        answer = json_response({"message": "You are signed out of hubnox's settings. Open them from HubSpot "
                                           "to sign in again."})
        answer.cookies.append(cleared_session_cookie())
        return answer

    def fortnox_problems(portal_id: str, settings: PortalSettings) -> list[dict[str, str]]:
        return connected_fortnox_problems(ports, portal_id, settings)

    def invalid_settings(error: BadRequestError, body: str | None,
                         errors: list[dict[str, str]] | None = None) -> Response:
        logger.warning("request refused", extra={"code": error.code, "status": 400,
                                                 "path": router.current_event.path})
        answer: dict[str, Any] = {"message": error.message, "code": error.code,
                                  "errors": errors if errors is not None else field_errors(body)}
        if error.hint:
            answer["hint"] = error.hint
        return json_response(answer, status=400)

    return router


# -- the page ------------------------------------------------------------------------------------------

ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
#: the notices a redirect may ask the page to show; only these fixed texts are ever shown
NOTICES = {
    "fortnox-connected": "Fortnox is connected.",
    "fortnox-disconnected": "Fortnox is disconnected. Connect a company again whenever you like.",
}
STATUS_TEXT = {"active": "working", "broken": "needs reconnecting", "uninstalled": "uninstalled"}
#: an active Fortnox connection whose scopes or licences leave features out
LIMITED_TEXT = "connected, but some features will not work"


def settings_page_router(ports: SettingsApiPorts) -> APIGatewayHttpRouter:
    """The page, its static files, and the answer for an API route that does not exist. Include it
    after `settings_api_router`: pattern routes are tried in the order they are registered.
    `ports` is the function's container, its services built on first use."""
    router = APIGatewayHttpRouter()

    @router.get("/settings")
    def settings_page() -> Response:
        query = router.current_event.query_string_parameters or {}
        if query.get("login"):
            # The link alone signs no one in: claim it, and let HubSpot say who this browser's user is.
            start = ports.connection_service.begin_login(query["login"])
            return redirect(start.url, status=303,
                            cookies=[browser_secret_cookie(LOGIN_COOKIE, start.browser_secret, STATE_TTL_SECONDS)])
        try:
            session = read_session(ports.signer, ports.sessions, router.current_event.cookies)
        except UnauthorizedError as refused:  # an uninstall ends the sessions: say so, and the way back
            raise uninstalled_refusal(refused, router.current_event.cookies, signer=ports.signer,
                                      connections=ports.connections, public_base=ports.config.public_base,
                                      retention_days=ports.config.uninstalled_data_retention_days) from None
        hubspot = ports.connections.get_hubspot(session.portal_id)
        fortnox = ports.connections.get_fortnox(session.portal_id)
        notice = NOTICES.get(query.get("notice", ""))
        health = ports.connection_health.for_portal(session.portal_id) if fortnox is not None else None
        fortnox_status = STATUS_TEXT.get(fortnox.status, fortnox.status) if fortnox else ""
        if health is not None and health.problems:
            fortnox_status = LIMITED_TEXT
        body = render(
            "settings.html",
            base=ports.config.public_base,
            session=session,
            hubspot=hubspot,
            hubspot_status=STATUS_TEXT.get(hubspot.status, hubspot.status) if hubspot else "",
            fortnox=fortnox,
            fortnox_status=fortnox_status,
            health=health,
            # connected before hubnox asked for `payment`: the status sync reads no payments until a reconnect
            payments_reconnect=fortnox is not None and fortnox.status == "active"
            and lacks_payment_scope(fortnox.scopes),
            notice=notice,
            notice_error=False,
            fortnox_connected=fortnox is not None and fortnox.status == "active",
            choices=settings_choices(),
            defaults=PortalSettings().model_dump(mode="json"),
        )
        return page(body)

    # The group makes this a dynamic route: the resolver tries every static route (a bare regex counts as
    # one) before any dynamic route, so without it this would shadow the API's /properties/<object_type>.
    @router.route(f"{PREFIX}/(.+)", method=ANY_METHOD)
    def no_such_route() -> Response:
        event = router.current_event
        raise NotFoundError(f"The settings API has no route {event.http_method} {event.path}.")

    @router.get("/settings/static/.+")
    def static() -> Response:
        return static_file((router.current_event.path_parameters or {}).get("proxy", ""))

    return router

"""The HubSpot API client hubnox uses, on the 2026-03 date-based paths of `hubspot.paths`.

One client serves one portal: it takes the portal's `TokenSource` and the shared `RateBudget`
in its constructor and keeps every call within HubSpot's limits for OAuth apps (110 requests per
10 seconds per portal, and for search also 5 per second).
"""

from __future__ import annotations

import json
import mimetypes
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any, TypeVar

import httpx

from hubnox.api_http import ApiCaller, ApiProfile, RateLimit, RetryPolicy, TokenSource, json_or_none
from hubnox.errors import BadRequestError, ConnectionBrokenError, HubnoxError, NotFoundError, UserFixableError
from hubnox.hubspot import paths
from hubnox.hubspot.errors import SYSTEM, MissingScopesError
from hubnox.hubspot.models import (
    AccountDetails,
    AssociatedRecord,
    AssociationInput,
    BatchError,
    BatchReadResult,
    BatchUpdateResult,
    CrmObject,
    HubSpotUser,
    Owner,
    Pipeline,
    SearchPage,
    TaxRate,
    UploadedFile,
)
from hubnox.observability import logger
from hubnox.rate_budget import RateBudget

#: HubSpot's limits for OAuth apps, per installing portal: 110 per 10 s, paced at 105 (10.5 a
#: second), the five left over being the margin for clock skew and network jitter
REQUESTS_PER_WINDOW = 105
WINDOW_SECONDS = 10.0
SEARCH_REQUESTS_PER_WINDOW = 5
SEARCH_WINDOW_SECONDS = 1.0
#: how long a call may wait for the budget before it goes back to the queue
MAX_BUDGET_WAIT_SECONDS = 10.0
#: HubSpot sends no Retry-After on most 429s; its window frees gradually
DEFAULT_RETRY_AFTER_SECONDS = 2.0

BATCH_READ_SIZE = 100
BATCH_UPDATE_SIZE = 100
ASSOCIATIONS_PAGE_SIZE = 500
SEARCH_PAGE_SIZE_MAX = 200
SEARCH_RESULTS_MAX = 10_000
TAX_RATES_PAGE_SIZE = 100
SEARCH_GROUPS_MAX = 5
SEARCH_FILTERS_PER_GROUP_MAX = 6
SEARCH_FILTERS_MAX = 18
NOTE_BODY_MAX = 65_536

T = TypeVar("T", bound=CrmObject)


class HubSpotClient:
    """Typed calls to one portal's CRM, files, workflow callbacks and account details."""

    def __init__(
        self,
        http: httpx.Client,
        tokens: TokenSource,
        budget: RateBudget,
        portal_id: str,
        *,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.portal_id = str(portal_id)
        self._clock = clock
        profile = ApiProfile(
            system=SYSTEM,
            translate=hubspot_error,
            default_retry_after=DEFAULT_RETRY_AFTER_SECONDS,
            # 423: locked by a bulk write, 477: portal migration; both refuse before acting.
            refused_statuses=frozenset({423, 429, 477}),
            limits=(RateLimit(f"hubspot:{self.portal_id}", REQUESTS_PER_WINDOW, WINDOW_SECONDS,
                              MAX_BUDGET_WAIT_SECONDS),),
        )
        self._search_limit = RateLimit(f"hubspot-search:{self.portal_id}", SEARCH_REQUESTS_PER_WINDOW,
                                       SEARCH_WINDOW_SECONDS, MAX_BUDGET_WAIT_SECONDS)
        self._api = ApiCaller(http, tokens, budget, profile, retry=retry)

    # -- records -------------------------------------------------------------------------------

    def get_object(
        self,
        object_type: str,
        object_id: str,
        properties: Sequence[str] = (),
        associations: Sequence[str] = (),
        *,
        model: type[T] = CrmObject,  # type: ignore[assignment]
    ) -> T:
        """One record with the named properties and the ids of associated records.

        Raises `NotFoundError` when the record does not exist (or was archived).
        """
        params = {"properties": list(properties) or None, "associations": list(associations) or None}
        reply = self._api.call("GET", paths.object_by_id(object_type, object_id), params=params)
        return model.from_api(reply.data)

    def batch_read(
        self,
        object_type: str,
        ids: Iterable[str],
        properties: Sequence[str],
        *,
        model: type[CrmObject] = CrmObject,
    ) -> BatchReadResult:
        """Read many records by id, 100 per request; report the ids HubSpot did not find.

        A partial answer (207) is not an error: the records found are returned and the rest are
        listed in `missing` with HubSpot's reasons in `errors`.
        """
        wanted = _unique(ids)
        found: list[CrmObject] = []
        errors: list[BatchError] = []
        for chunk in _chunks(wanted, BATCH_READ_SIZE):
            body = {"properties": list(properties), "propertiesWithHistory": [],
                    "inputs": [{"id": record_id} for record_id in chunk]}
            reply = self._api.call("POST", paths.batch_read(object_type), json_body=body, idempotent=True)
            found.extend(model.from_api(item) for item in reply.data.get("results", []))
            errors.extend(_batch_errors(reply.data))
        found_ids = {record.id for record in found}
        missing = [record_id for record_id in wanted if record_id not in found_ids]
        if missing:
            logger.info("HubSpot batch read missed records",
                        extra={"object_type": object_type, "missing": len(missing)})
        return BatchReadResult(found=found, missing=missing, errors=errors)

    def search(
        self,
        object_type: str,
        filter_groups: Sequence[Mapping[str, Any]],
        properties: Sequence[str],
        sorts: Sequence[Mapping[str, str] | str] = (),
        limit: int = 100,
        after: str | None = None,
        *,
        model: type[CrmObject] = CrmObject,
    ) -> SearchPage:
        """One page of a CRM search.

        Filters are ANDed within a group and groups are ORed. HubSpot allows at most 5 groups,
        6 filters per group and 18 in all, one sort rule, 200 results per page and 10,000 per
        query; asking for more raises `ValueError` here rather than a 400 there.
        """
        _check_search(filter_groups, sorts, limit)
        body = {
            "filterGroups": [dict(group) for group in filter_groups],
            "sorts": [_sort(rule) for rule in sorts],
            "properties": list(properties),
            "limit": limit,
            "after": after or "0",
        }
        reply = self._api.call("POST", paths.search(object_type), json_body=body, idempotent=True,
                                   extra_limits=(self._search_limit,))
        data = reply.data or {}
        next_after = ((data.get("paging") or {}).get("next") or {}).get("after")
        return SearchPage(total=int(data.get("total", 0)),
                          results=[model.from_api(item) for item in data.get("results", [])],
                          next_after=str(next_after) if next_after is not None else None)

    def iter_search(
        self,
        object_type: str,
        filter_groups: Sequence[Mapping[str, Any]],
        properties: Sequence[str],
        sorts: Sequence[Mapping[str, str] | str] = (),
        *,
        page_size: int = SEARCH_PAGE_SIZE_MAX,
        model: type[CrmObject] = CrmObject,
    ) -> Iterator[CrmObject]:
        """Every record a search finds, page by page, up to HubSpot's 10,000 per query.

        Past 10,000 HubSpot answers 400, so the iteration stops there and logs it; callers
        that can have more sort by a property (e.g. `hs_lastmodifieddate`) and search again
        from the last value they saw.
        """
        after: str | None = None
        while True:
            page = self.search(object_type, filter_groups, properties, sorts, page_size, after, model=model)
            yield from page.results
            if page.next_after is None:
                return
            if _after_offset(page.next_after) >= SEARCH_RESULTS_MAX:
                logger.warning("HubSpot search reached its 10,000 result cap",
                               extra={"object_type": object_type, "total": page.total})
                return
            after = page.next_after

    def update(self, object_type: str, object_id: str, properties: Mapping[str, Any]) -> CrmObject:
        """Set properties on a record (None clears one) and answer the record as saved."""
        body = {"properties": _property_values(properties)}
        reply = self._api.call("PATCH", paths.object_by_id(object_type, object_id), json_body=body,
                                   idempotent=True)
        return CrmObject.from_api(reply.data)

    def batch_update(self, object_type: str, updates: Mapping[str, Mapping[str, Any]]) -> BatchUpdateResult:
        """Set properties on many records (record id -> properties; None clears one), 100 per request.

        Each request counts once against the portal's budget, so writing a thousand deals costs ten
        calls instead of a thousand PATCHes. A partial answer (207) is not an error: the ids HubSpot
        did not find are listed in `missing`, its other refusals in `errors`, and the rest are
        written. A refused request (400, e.g. a value HubSpot rejects) raises `BadRequestError`, and
        the chunks before it stay written; repeating them is harmless, as a batch update is.
        """
        wanted = _unique(updates)
        values = {str(record_id): _property_values(props) for record_id, props in updates.items()}
        updated: list[str] = []
        missing: list[str] = []
        errors: list[str] = []
        for chunk in _chunks(wanted, BATCH_UPDATE_SIZE):
            body = {"inputs": [{"id": record_id, "properties": values[record_id]} for record_id in chunk]}
            reply = self._api.call("POST", paths.batch_update(object_type), json_body=body, idempotent=True)
            data = reply.data or {}
            updated.extend(str(item["id"]) for item in data.get("results", []) if "id" in item)
            for error in _batch_errors(data):
                if error.category == "OBJECT_NOT_FOUND":
                    missing.extend(record_id for record_id in error.ids if record_id not in missing)
                else:
                    errors.append(f"{error.category or error.status}: {error.message}"
                                  + (f" ({', '.join(error.ids)})" if error.ids else ""))
        if missing or errors:
            logger.info("HubSpot batch update was partial",
                        extra={"object_type": object_type, "missing": len(missing), "errors": len(errors)})
        return BatchUpdateResult(updated=updated, missing=missing, errors=errors)

    def create(self, object_type: str, properties: Mapping[str, Any],
               associations: Sequence[AssociationInput] = ()) -> CrmObject:
        """Create a record with its associations. Not retried when the outcome is unknown."""
        body = {"properties": _property_values(properties),
                "associations": [association.as_api() for association in associations]}
        reply = self._api.call("POST", paths.objects(object_type), json_body=body)
        return CrmObject.from_api(reply.data)

    def create_note(
        self,
        deal_id: str,
        body_html: str,
        attachment_ids: Sequence[str] = (),
        timestamp: datetime | None = None,
        *,
        owner_id: str | None = None,
    ) -> CrmObject:
        """A note on the deal's timeline (association type 214), with files attached by id."""
        if len(body_html) > NOTE_BODY_MAX:
            raise ValueError(f"a note body holds at most {NOTE_BODY_MAX} characters")
        when = timestamp or datetime.fromtimestamp(self._clock(), tz=UTC)
        properties: dict[str, Any] = {"hs_timestamp": _iso_utc(when), "hs_note_body": body_html}
        if attachment_ids:
            properties["hs_attachment_ids"] = ";".join(str(file_id) for file_id in attachment_ids)
        if owner_id:
            properties["hubspot_owner_id"] = owner_id
        return self.create(paths.NOTES, properties, [AssociationInput(deal_id, paths.NOTE_TO_DEAL)])

    # -- files ---------------------------------------------------------------------------------

    def upload_file(self, content: bytes, file_name: str, folder_path: str, access: str = "PRIVATE",
                    ) -> UploadedFile:
        """Upload one file into a folder (created when missing); answers its id for attachments."""
        content_type = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        options = {"access": access, "overwrite": False, "duplicateValidationStrategy": "NONE"}
        data = {
            "options": json.dumps(options),
            "folderPath": folder_path,
            "fileName": PurePosixPath(file_name).stem,
        }
        reply = self._api.call("POST", paths.FILES, data=data,
                                   files={"file": (file_name, content, content_type)})
        return UploadedFile.model_validate(reply.data)

    def file_signed_url(self, file_id: str, expiration_seconds: int = 3600) -> str:
        """A temporary download link for a private file."""
        reply = self._api.call("GET", paths.file_signed_url(file_id),
                                   params={"expirationSeconds": expiration_seconds})
        return str(reply.data["url"])

    # -- associations --------------------------------------------------------------------------

    def associations(self, from_type: str, object_id: str, to_type: str) -> list[AssociatedRecord]:
        """Every record of `to_type` associated with one record, following the pages."""
        records: list[AssociatedRecord] = []
        after: str | None = None
        while True:
            reply = self._api.call("GET", paths.object_associations(from_type, object_id, to_type),
                                       params={"limit": ASSOCIATIONS_PAGE_SIZE, "after": after})
            data = reply.data or {}
            records.extend(_associated(item) for item in data.get("results", []))
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return records

    def associate(self, from_type: str, object_id: str, to_type: str, to_id: str) -> None:
        """Link two records with the default association type."""
        self._api.call("PUT", paths.associate_default(from_type, object_id, to_type, to_id))

    # -- schema --------------------------------------------------------------------------------

    def pipelines(self, object_type: str = "deals") -> list[Pipeline]:
        """The object's pipelines with their stages, in display order."""
        reply = self._api.call("GET", paths.pipelines(object_type))
        pipelines = [Pipeline.model_validate(item) for item in (reply.data or {}).get("results", [])]
        return sorted(pipelines, key=lambda pipeline: pipeline.display_order)

    def list_properties(self, object_type: str) -> list[dict[str, Any]]:
        """The object's property definitions as HubSpot describes them."""
        reply = self._api.call("GET", paths.properties(object_type))
        return list((reply.data or {}).get("results", []))

    def create_property(self, object_type: str, definition: Mapping[str, Any]) -> bool:
        """Create a property; answers False when it already exists (HubSpot's 409), which is fine."""
        reply = self._api.call("POST", paths.properties(object_type), json_body=dict(definition),
                                   idempotent=True, accept=(409,))
        return reply.status != 409

    def update_property(self, object_type: str, name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Overwrite the given fields of a property and answer HubSpot's definition of it.

        `options` replaces the whole option list: a caller adding options sends the ones to keep.
        Raises `NotFoundError` when the object has no such property.
        """
        reply = self._api.call("PATCH", paths.property_by_name(object_type, name), json_body=dict(changes),
                               idempotent=True)
        return dict(reply.data or {})

    def add_property(self, object_type: str, definition: Mapping[str, Any]) -> dict[str, Any] | None:
        """Create a property and answer HubSpot's definition of it; None when the object already has
        a property of that name (HubSpot's 409). Not retried once it may have taken effect, so a
        property made on the first try is never reported as one that existed before."""
        reply = self._api.call("POST", paths.properties(object_type), json_body=dict(definition),
                               idempotent=False, accept=(409,))
        return None if reply.status == 409 else dict(reply.data or {})

    def create_property_group(self, object_type: str, name: str, label: str,
                              display_order: int | None = None) -> bool:
        """Create a property group; answers False when it already exists."""
        body: dict[str, Any] = {"name": name, "label": label}
        if display_order is not None:
            body["displayOrder"] = display_order
        reply = self._api.call("POST", paths.property_groups(object_type), json_body=body,
                                   idempotent=True, accept=(409,))
        return reply.status != 409

    # -- workflows and account -----------------------------------------------------------------

    def complete_callback(self, callback_id: str, output_fields: Mapping[str, Any]) -> None:
        """Finish a blocked workflow action with its output fields (values sent as strings).

        The spec requires `typedOutputs`; hubnox has none and sends `{}`.
        """
        body = {"outputFields": _property_values(output_fields), "typedOutputs": {}}
        self._api.call("POST", paths.callback_complete(callback_id), json_body=body)

    def account_details(self) -> AccountDetails:
        """The portal's id, company currency, other currencies and time zone."""
        reply = self._api.call("GET", paths.ACCOUNT_DETAILS)
        return AccountDetails.model_validate(reply.data)

    def tax_rates(self) -> list[TaxRate]:
        """The portal's whole tax-rate library (inactive rates too), following the pages.

        Needs the optional scope `tax_rates.read`; without it raises `MissingScopesError`.
        """
        rates: list[TaxRate] = []
        after: str | None = None
        while True:
            reply = self._api.call("GET", paths.TAX_RATES, params={"limit": TAX_RATES_PAGE_SIZE, "after": after})
            data = reply.data or {}
            rates.extend(TaxRate.model_validate(item) for item in data.get("results", []))
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return rates

    def owner(self, owner_id: str, *, archived: bool = False) -> Owner:
        """One owner by its owner id; `archived` looks among archived owners (deactivated users).

        Needs the optional scope `crm.objects.owners.read`; without it raises `MissingScopesError`.
        Raises `NotFoundError` when there is no such owner (among the archived ones, if asked).
        """
        params = {"idProperty": "id", "archived": "true" if archived else "false"}
        reply = self._api.call("GET", paths.owner(owner_id), params=params)
        return Owner.model_validate(reply.data)

    def user(self, user_id: str) -> HubSpotUser:
        """One user of the portal by their HubSpot user id, with their super-admin flag.

        Needs the optional scope `settings.users.read`; without it raises `MissingScopesError`.
        Raises `NotFoundError` when the portal has no such user.
        """
        reply = self._api.call("GET", paths.user(user_id), params={"idProperty": "USER_ID"})
        return HubSpotUser.model_validate(reply.data)


# -- error translation -----------------------------------------------------------------------------

def hubspot_error(response: httpx.Response) -> HubnoxError:
    """The domain error for a HubSpot 4xx answer (401, 429 and 5xx are handled before this)."""
    body = json_or_none(response)
    body = body if isinstance(body, dict) else {}
    message = str(body.get("message") or f"HubSpot answered {response.status_code}.")
    category = str(body.get("category") or "")
    correlation = body.get("correlationId")
    detail = f"{message} (HubSpot {response.status_code} {category}, correlation id {correlation})"
    status = response.status_code
    if status == 403:
        refusal = f"HubSpot refused access: {message} Reinstall the app to grant what is missing."
        if category == "MISSING_SCOPES":
            return MissingScopesError(refusal, _required_scopes(body))
        return ConnectionBrokenError(SYSTEM, refusal)
    if status == 404:
        return NotFoundError(detail, code="HUBSPOT_NOT_FOUND")
    if status == 409:
        return UserFixableError(detail, code="HUBSPOT_CONFLICT")
    return BadRequestError(detail, code=f"HUBSPOT_{category}" if category else "HUBSPOT_BAD_REQUEST",
                           hint=_validation_hint(body))


def _required_scopes(body: Mapping[str, Any]) -> list[str]:
    """The scopes a MISSING_SCOPES answer names (`errors[].context.requiredGranularScopes`)."""
    scopes: list[str] = []
    for item in body.get("errors") or []:
        context = item.get("context") if isinstance(item, dict) else None
        named = context.get("requiredGranularScopes") if isinstance(context, dict) else None
        scopes += [str(scope) for scope in named or [] if str(scope) not in scopes]
    return scopes


def _validation_hint(body: Mapping[str, Any]) -> str | None:
    details = [str(item.get("message")) for item in body.get("errors") or [] if isinstance(item, dict)]
    return "; ".join(d for d in details if d) or None


# -- small pieces --------------------------------------------------------------------------------------

def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(str(record_id) for record_id in ids if str(record_id)))


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _batch_errors(data: Mapping[str, Any]) -> list[BatchError]:
    errors = []
    for item in data.get("errors") or []:
        context = item.get("context") or {}
        ids = [str(i) for i in context.get("ids", [])]
        errors.append(BatchError(status=item.get("status"), category=item.get("category"),
                                 message=str(item.get("message", "")), ids=ids))
    return errors


def _check_search(filter_groups: Sequence[Mapping[str, Any]], sorts: Sequence[Any], limit: int) -> None:
    if len(filter_groups) > SEARCH_GROUPS_MAX:
        raise ValueError(f"HubSpot search allows at most {SEARCH_GROUPS_MAX} filter groups")
    counts = [len(group.get("filters", [])) for group in filter_groups]
    if any(count > SEARCH_FILTERS_PER_GROUP_MAX for count in counts) or sum(counts) > SEARCH_FILTERS_MAX:
        raise ValueError(f"HubSpot search allows at most {SEARCH_FILTERS_PER_GROUP_MAX} filters per group "
                         f"and {SEARCH_FILTERS_MAX} in all")
    if len(sorts) > 1:
        raise ValueError("HubSpot search takes one sort rule")
    if not 1 <= limit <= SEARCH_PAGE_SIZE_MAX:
        raise ValueError(f"HubSpot search pages hold 1 to {SEARCH_PAGE_SIZE_MAX} results")


def _sort(rule: Mapping[str, str] | str) -> dict[str, str]:
    """A sort rule in the documented object form.

    The 2026-03 spec types `sorts` as strings, but HubSpot's search documentation and every
    working client send `{"propertyName", "direction"}` objects; hubnox follows the docs. A
    string names the property, with a leading "-" for descending.
    """
    if isinstance(rule, str):
        descending = rule.startswith("-")
        return {"propertyName": rule.lstrip("-"), "direction": "DESCENDING" if descending else "ASCENDING"}
    return {"propertyName": rule["propertyName"], "direction": rule.get("direction", "ASCENDING")}


def _after_offset(after: str) -> int:
    try:
        return int(after)
    except ValueError:
        return 0


def _property_values(properties: Mapping[str, Any]) -> dict[str, str]:
    """Property values as the strings HubSpot stores (None clears, numbers exact, bools lower-case)."""
    return {str(name): _property_value(value) for name, value in properties.items()}


def _property_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return _iso_utc(value)
    return str(value)


def _iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _associated(item: Mapping[str, Any]) -> AssociatedRecord:
    kinds = item.get("associationTypes", [])
    type_ids = [int(kind["typeId"]) for kind in kinds if "typeId" in kind]
    labels = [str(kind["label"]) for kind in kinds if kind.get("label")]
    return AssociatedRecord(id=str(item["toObjectId"]), type_ids=type_ids, labels=labels)

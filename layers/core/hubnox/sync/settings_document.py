"""A portal's settings as a file an admin can review and import into another portal.

The export document is versioned twice: `format` names what the file is, `schemaVersion` is the
`SETTINGS_SCHEMA_VERSION` of the settings inside it, so a file exported by an older hubnox goes
through the same `MIGRATIONS` as stored settings, and one from a newer hubnox is refused rather
than read with fields lost:

    {"format": "hubnox-settings", "schemaVersion": 2, "exportedAt": "2026-12-06T21:15:44+00:00",
     "portalId": "102670506", "settings": {...PortalSettings...}}

The document is built from the `PortalSettings` model alone, never from a stored item, so nothing
but settings (no connection, token or tenant) can reach it. Reading one (`read_document`) answers
the settings or a `SettingsDocumentError` naming every problem; `settings_changes` lists what an
import would change; `hubspot_problems` names the values that point at pipelines, stages or
properties this portal does not have (another portal's ids usually differ).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from hubnox.errors import BadRequestError
from hubnox.sync.portal_settings import MIGRATIONS, SETTINGS_SCHEMA_VERSION, PortalSettings, describe_errors

FORMAT = "hubnox-settings"
#: the keys a document has; `exportedAt` and `portalId` only say where it came from
DOCUMENT_KEYS = ("format", "schemaVersion", "exportedAt", "portalId", "settings")
_REQUIRED = ("format", "schemaVersion", "settings")


class SettingsDocumentError(BadRequestError):
    """A document hubnox cannot import; `errors` lists `{"field", "message"}` per wrong setting (the
    settings API's 400 shape), empty when the document as a whole is wrong."""

    def __init__(self, message: str, *, code: str = "INVALID_DOCUMENT", hint: str | None = None,
                 errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message, code=code, hint=hint)
        self.errors = errors or []


def export_document(settings: PortalSettings, portal_id: str, exported_at: float) -> dict[str, Any]:
    """The export document of `settings` (see the module), `exported_at` a Unix time."""
    return {
        "format": FORMAT,
        "schemaVersion": SETTINGS_SCHEMA_VERSION,
        "exportedAt": datetime.fromtimestamp(exported_at, UTC).isoformat(timespec="seconds"),
        "portalId": portal_id,
        "settings": settings.model_dump(mode="json"),
    }


def export_filename(portal_id: str, exported_at: float) -> str:
    """`hubnox-settings-<portal>-<YYYY-MM-DD>.json` (UTC date)."""
    day = datetime.fromtimestamp(exported_at, UTC).date().isoformat()
    return f"{FORMAT}-{''.join(c for c in portal_id if c.isalnum())}-{day}.json"


@dataclass(frozen=True)
class ImportedSettings:
    """What a valid document holds: the settings at this hubnox's schema version, and where from."""

    settings: PortalSettings
    schema_version: int
    portal_id: str | None
    exported_at: str | None

    @property
    def migrated(self) -> bool:
        return self.schema_version != SETTINGS_SCHEMA_VERSION


def read_document(document: Any) -> ImportedSettings:
    """The settings an export document holds, migrated to `SETTINGS_SCHEMA_VERSION`.

    Raises `SettingsDocumentError` for anything else: not an export (format), a schema version newer
    than this hubnox (`SETTINGS_TOO_NEW`), or settings the model refuses (`INVALID_SETTINGS` with an
    error per field, named as after migration).
    """
    if not isinstance(document, dict):
        raise SettingsDocumentError("The file is not a hubnox settings export: it must be a JSON object "
                                    f'with "format": "{FORMAT}".', code="NOT_AN_EXPORT")
    if document.get("format") != FORMAT:
        found = document.get("format")
        said = f"its format is {found!r}" if found is not None else "it has no format"
        raise SettingsDocumentError(f'The file is not a hubnox settings export: {said}, not "{FORMAT}".',
                                    code="NOT_AN_EXPORT", hint="Export the settings from hubnox's settings page.")
    missing = [key for key in _REQUIRED if key not in document]
    unknown = [str(key) for key in document if key not in DOCUMENT_KEYS]
    if missing or unknown:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unknown {', '.join(unknown)}"] if unknown else [])
        raise SettingsDocumentError(f"The settings export is incomplete or altered: {'; '.join(parts)} "
                                    f"(an export has {', '.join(DOCUMENT_KEYS)}).")
    version = document["schemaVersion"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SettingsDocumentError("schemaVersion: must be the settings schema version the file was exported "
                                    f"with, a whole number from 1 (this hubnox writes {SETTINGS_SCHEMA_VERSION}).")
    if version > SETTINGS_SCHEMA_VERSION:
        raise SettingsDocumentError(
            f"The file holds settings of schema version {version}, newer than this hubnox understands "
            f"(up to {SETTINGS_SCHEMA_VERSION}). Nothing was imported.", code="SETTINGS_TOO_NEW",
            hint="Update this hubnox to the version that exported the file, then import it again.")
    for key in ("exportedAt", "portalId"):
        if document.get(key) is not None and not isinstance(document[key], str):
            raise SettingsDocumentError(f"{key}: must be text (it only says where the file came from).")
    settings = document["settings"]
    if not isinstance(settings, dict):
        raise SettingsDocumentError("settings: must be an object holding the portal's settings.",
                                    code="INVALID_SETTINGS")
    stated = settings.get("schema_version", version)
    if stated != version:
        raise SettingsDocumentError(f"settings.schema_version ({stated!r}) differs from the file's schemaVersion "
                                    f"({version}): the file was altered.", code="INVALID_SETTINGS")
    return ImportedSettings(_current(dict(settings), version), version, document.get("portalId"),
                            document.get("exportedAt"))


def _current(data: dict[str, Any], version: int) -> PortalSettings:
    """Settings of `version` through `MIGRATIONS`, then the model; the same path stored settings take."""
    data.pop("schema_version", None)
    try:
        while version < SETTINGS_SCHEMA_VERSION:
            data = MIGRATIONS[version](data)
            version += 1
    except (AttributeError, TypeError, ValueError) as error:
        raise SettingsDocumentError(f"The settings could not be read as schema version {version}: {error}.",
                                    code="INVALID_SETTINGS") from None
    data["schema_version"] = version
    try:
        return PortalSettings.model_validate(data)
    except ValidationError as error:
        errors = [{"field": ".".join(str(part) for part in item["loc"]) or "settings",
                   "message": str(item["msg"]).removeprefix("Value error, ")} for item in error.errors()]
        raise SettingsDocumentError(describe_errors(error), code="INVALID_SETTINGS", errors=errors,
                                    hint="Correct the named settings in the file and import it again.") from None


@dataclass(frozen=True)
class Change:
    """One setting an import changes: its dotted path, what it is now and what it would be (None: unset)."""

    field: str
    current: Any
    imported: Any


_ABSENT = object()


def settings_changes(current: PortalSettings, imported: PortalSettings) -> list[Change]:
    """Every setting that differs, by dotted path, in the settings' own order. Objects are compared
    key by key (a field mapping row is `customer_fields.company.Name`); lists (trigger stages) whole."""
    changes: list[Change] = []

    def walk(path: str, old: Any, new: Any) -> None:
        if old == new:
            return
        if isinstance(old, dict) and isinstance(new, dict):
            for key in [*old, *(key for key in new if key not in old)]:
                walk(f"{path}.{key}" if path else str(key), old.get(key, _ABSENT), new.get(key, _ABSENT))
            return
        changes.append(Change(path, None if old is _ABSENT else old, None if new is _ABSENT else new))

    walk("", current.model_dump(mode="json"), imported.model_dump(mode="json"))
    return changes


@dataclass(frozen=True)
class HubSpotPortal:
    """What this portal has that settings may name: deal pipelines (id -> label and stage ids, archived
    ones left out) and property names by object type (`deals`, `companies`, `contacts`)."""

    pipelines: Mapping[str, tuple[str, Collection[str]]]
    properties: Mapping[str, Collection[str]] = field(default_factory=dict)


def _property_settings(settings: PortalSettings) -> list[tuple[str, str, tuple[str, ...]]]:
    """Each setting that names a HubSpot property: its path, the name, and the object types it is read
    on (the customer number's properties on companies and contacts alike). Unset ones are left out."""
    both = ("companies", "contacts")
    named: list[tuple[str, str | None, tuple[str, ...]]] = [
        ("company_match.hubspot_property", settings.company_match.hubspot_property, ("companies",)),
        ("contact_match.hubspot_property",
         settings.contact_match.hubspot_property if settings.contact_match else None, ("contacts",)),
        ("customer_number.write_back_property", settings.customer_number.write_back_property, both),
        ("customer_number.hubspot_property", settings.customer_number.hubspot_property, both),
        *((f"customer_fields.company.{key}", name, ("companies",))
          for key, name in settings.customer_fields.company.items()),
        *((f"customer_fields.contact.{key}", name, ("contacts",))
          for key, name in settings.customer_fields.contact.items()),
        *((f"deal_fields.{key}", getattr(settings.deal_fields, key), ("deals",))
          for key in ("your_reference", "our_reference", "your_order_number", "remarks")),
    ]
    return [(path, name, objects) for path, name, objects in named if name]


_RECORD = {"deals": "deal", "companies": "company", "contacts": "contact"}


def hubspot_problems(settings: PortalSettings, portal: HubSpotPortal) -> list[dict[str, str]]:
    """One `{"field", "message", "fix"}` per trigger stage or property the settings name that this
    portal does not have. Object types missing from `portal.properties` are not checked."""
    problems: list[dict[str, str]] = []
    for index, stage in enumerate(settings.trigger_stages):
        path = f"trigger_stages.{index}"
        pipeline = portal.pipelines.get(stage.pipeline_id)
        if pipeline is None:
            problems.append({"field": f"{path}.pipeline_id", "message": (
                f"This HubSpot portal has no deal pipeline {stage.pipeline_id!r} (the trigger stage "
                f"{stage.stage_id!r} is in it), so no deal will ever trigger this row."),
                "fix": "After importing, pick this portal's pipeline and stage in Documents > Trigger stages, "
                       "or remove the row."})
        elif stage.stage_id not in pipeline[1]:
            problems.append({"field": f"{path}.stage_id", "message": (
                f"The pipeline {pipeline[0]!r} of this HubSpot portal has no stage {stage.stage_id!r}, so no deal "
                "will ever trigger this row."),
                "fix": f"After importing, pick one of {pipeline[0]!r}'s stages in Documents > Trigger stages, "
                       "or remove the row."})
    for path, name, objects in _property_settings(settings):
        lacking = [kind for kind in objects if kind in portal.properties and name not in portal.properties[kind]]
        if lacking:
            records = " or ".join(_RECORD[kind] for kind in lacking)
            problems.append({"field": path, "message": (
                f"This HubSpot portal has no {records} property {name!r}, so hubnox would read no value from it."),
                "fix": f"Create the {records} property {name!r} in HubSpot (or with Create property in the "
                       "field mappings), or choose another property after importing."})
    return problems

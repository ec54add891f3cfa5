"""The Files API part of the HubSpot simulator: multipart upload, file details and signed URLs.
The bytes are kept so tests can read them back (`GET /_sandbox/files/{id}/content`)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from sandbox.common import json_response
from sandbox.hubspot_errors import ApiError, validation_error
from sandbox.hubspot_requests import int_arg
from sandbox.hubspot_store import Portal, StoredFile, file_json, iso_ms

if TYPE_CHECKING:
    from sandbox.hubspot import HubSpotSimulator
    from sandbox.hubspot_oauth import Grant

FILE_ACCESS = (
    "PUBLIC_INDEXABLE",
    "PUBLIC_NOT_INDEXABLE",
    "PRIVATE",
    "HIDDEN_INDEXABLE",
    "HIDDEN_NOT_INDEXABLE",
    "HIDDEN_PRIVATE",
    "HIDDEN_SENSITIVE",
    "SENSITIVE",
)


class FilesRoutes:
    """Upload, read and sign files (a mixin of HubSpotSimulator)."""

    # -- files -----------------------------------------------------------------------------------

    def _upload(self: HubSpotSimulator, request: Request, grant: Grant) -> Response:
        """Upload one file (multipart): `file`, `options` (JSON with `access`), exactly one of
        `folderPath`/`folderId`, optional `fileName`; duplicate validation and overwrite as the
        options ask."""
        portal = self._portal_of(grant)
        upload = request.files.get("file")
        if upload is None:
            raise validation_error("file is required: send it as the multipart part named 'file'")
        options = _upload_options(request.form.get("options"))
        folder = self._upload_folder(portal, request.form.get("folderPath"), request.form.get("folderId"))
        name, extension = _file_name(upload.filename or "", request.form.get("fileName"))
        content = upload.read()
        existing = self._duplicate(portal, content, folder, options)
        if existing is not None:
            return json_response(file_json(portal, existing), status=201)
        name = self._free_name(portal, folder, name, extension, bool(options.get("overwrite")))
        now = self.now_ms()
        stored = StoredFile(
            id=str(next(self._file_ids)),
            name=name,
            extension=extension,
            folder=folder,
            access=options["access"],
            content=content,
            content_type=upload.mimetype or "application/octet-stream",
            created_ms=now,
            updated_ms=now,
        )
        portal.files[stored.id] = stored
        location = f"{request.host_url.rstrip('/')}/files/2026-03/files/{stored.id}"
        return json_response(file_json(portal, stored), status=201, headers={"Location": location})

    def _upload_folder(self: HubSpotSimulator, portal: Portal, folder_path: str | None, folder_id: str | None) -> Any:
        if bool(folder_path) == bool(folder_id):
            raise validation_error("Exactly one of folderPath or folderId is required")
        if folder_path:
            return portal.folder_at(folder_path)
        folder = portal.folder_by_id(str(folder_id))
        if folder is None:
            raise validation_error(f"Folder {folder_id} does not exist")
        return folder

    def _duplicate(
        self: HubSpotSimulator, portal: Portal, content: bytes, folder: Any, options: dict[str, Any]
    ) -> StoredFile | None:
        strategy = options.get("duplicateValidationStrategy", "NONE")
        if strategy == "NONE":
            return None
        scope = options.get("duplicateValidationScope", "ENTIRE_PORTAL")
        for stored in portal.files.values():
            same_place = scope == "ENTIRE_PORTAL" or stored.folder.id == folder.id
            if not stored.archived and same_place and stored.content == content:
                if strategy == "REJECT":
                    raise ApiError(
                        409,
                        f"A duplicate of this file already exists: {stored.id} ({stored.path})",
                        "OBJECT_ALREADY_EXISTS",
                    )
                return stored
        return None

    def _free_name(
        self: HubSpotSimulator, portal: Portal, folder: Any, name: str, extension: str, overwrite: bool
    ) -> str:
        """Overwrite replaces a same-named file; otherwise HubSpot renames the new one (`name-1`)."""

        def taken(candidate: str) -> StoredFile | None:
            return next(
                (
                    f
                    for f in portal.files.values()
                    if not f.archived and f.folder.id == folder.id and f.name == candidate and f.extension == extension
                ),
                None,
            )

        clash = taken(name)
        if clash is not None and overwrite:
            clash.archived = True
            return name
        suffix, candidate = 0, name
        while taken(candidate) is not None:
            suffix += 1
            candidate = f"{name}-{suffix}"
        return candidate

    def _file(self: HubSpotSimulator, request: Request, grant: Grant, file_id: str) -> Response:
        portal = self._portal_of(grant)
        return json_response(file_json(portal, portal.file(file_id)))

    def _signed_url(self: HubSpotSimulator, request: Request, grant: Grant, file_id: str) -> Response:
        portal = self._portal_of(grant)
        stored = portal.file(file_id)
        seconds = int_arg(request, "expirationSeconds", 3600)
        if seconds < 1:
            raise validation_error("expirationSeconds must be positive")
        expires = self.now_ms() + seconds * 1000
        token = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        base = request.host_url.rstrip("/")
        url = f"{base}/_sandbox/files/{stored.id}/content?expires={expires}&signature={token}"
        return json_response(
            {
                "url": url,
                "expiresAt": iso_ms(expires),
                "name": stored.name,
                "extension": stored.extension,
                "type": stored.kind,
                "size": len(stored.content),
            }
        )


def _upload_options(raw: str | None) -> dict[str, Any]:
    if not raw:
        raise validation_error("options is required: a JSON string with at least access")
    try:
        options = json.loads(raw)
    except ValueError as exc:
        raise validation_error(f"options is not valid JSON: {exc}") from exc
    if not isinstance(options, dict) or options.get("access") not in FILE_ACCESS:
        raise validation_error(f"options.access is required: one of {', '.join(FILE_ACCESS[:3])}")
    strategy = options.get("duplicateValidationStrategy", "NONE")
    scope = options.get("duplicateValidationScope", "ENTIRE_PORTAL")
    if strategy not in ("NONE", "REJECT", "RETURN_EXISTING") or scope not in (
        "ENTIRE_PORTAL",
        "EXACT_FOLDER",
    ):
        raise validation_error(
            "duplicateValidationStrategy is NONE, REJECT or RETURN_EXISTING and "
            "duplicateValidationScope ENTIRE_PORTAL or EXACT_FOLDER"
        )
    return options


def _file_name(uploaded: str, wanted: str | None) -> tuple[str, str]:
    """The stored name (without extension) and extension of an upload."""
    base = uploaded.rsplit("/", 1)[-1]
    stem, dot, extension = base.rpartition(".")
    if not dot:
        stem, extension = base, ""
    if wanted:
        wanted_stem, wanted_dot, wanted_ext = wanted.rpartition(".")
        if wanted_dot and (wanted_ext.lower() == extension.lower() or not extension):
            return wanted_stem, wanted_ext
        return wanted, extension
    return stem or "file", extension

"""The layer's static files (`web/static/`), served by the settings function under /settings/static/."""

from __future__ import annotations

import mimetypes
from http import HTTPStatus
from importlib.resources import files
from importlib.resources.abc import Traversable

from aws_lambda_powertools.event_handler import Response, content_types

STATIC_ROOT: Traversable = files("hubnox.web") / "static"
# Static files change only with a deploy, which also changes the layer version.
STATIC_CACHE_CONTROL = "public, max-age=3600"
#: no file system takes a longer file name, so no static file has one
NAME_MAX = 255


def static_file(name: str) -> Response:
    """The static file `name` (a relative path) with its content type and caching, or 404 when there
    is no such file under `STATIC_ROOT`."""
    resource = static_resource(name)
    if resource is None:
        return Response(HTTPStatus.NOT_FOUND, content_types.APPLICATION_JSON, {"message": "Not Found"})
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(HTTPStatus.OK, content_type, resource.read_bytes(),
                    headers={"Cache-Control": STATIC_CACHE_CONTROL})


def static_resource(name: str) -> Traversable | None:
    """The file `name` (a relative path) under the layer's web/static folder, or None when there is no
    such file or the name tries to leave the folder."""
    parts = name.split("/")
    if not name or any(part in ("", ".", "..") or part.startswith(".") or "\\" in part or len(part) > NAME_MAX
                       for part in parts):
        return None
    resource = STATIC_ROOT.joinpath(*parts)
    try:
        return resource if resource.is_file() else None
    except (OSError, ValueError):  # a name the file system refuses (a NUL byte, too long) names no file
        return None

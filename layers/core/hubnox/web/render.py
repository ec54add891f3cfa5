"""Renders hubnox's pages and note bodies from the jinja2 templates in `web/templates/`."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


@cache
def environment() -> Environment:
    """One jinja2 environment per container: autoescaped HTML, undefined names are errors."""
    return Environment(
        loader=PackageLoader("hubnox.web", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, **context: Any) -> str:
    """The named template rendered with `context`."""
    return environment().get_template(template).render(**context)

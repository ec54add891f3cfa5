"""The sync stays pure logic over ports: no module in `hubnox/sync/` imports an adapter or a service.

Stores, web pages, HTTP clients, token sources, AWS and the entry-point services (`hubnox.services`)
reach the sync only through the ports in `hubnox.sync.ports`, injected by `hubnox.wiring`. Every
import is checked, wherever it sits in the module (a function body or an `if TYPE_CHECKING:` block
counts too).
"""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import hubnox.sync

SYNC_DIR = Path(hubnox.sync.__file__).resolve().parent

#: what the sync may not import, with everything under it
FORBIDDEN = (
    "hubnox.store",
    "hubnox.web",
    "hubnox.hubspot.client",
    "hubnox.fortnox.client",
    "hubnox.api_http",
    "hubnox.services",
    "hubnox.tokens",
    "hubnox.wiring",
    "boto3",
    "botocore",
    "httpx",
)


def imported_modules(source: str, module: str) -> list[tuple[int, str]]:
    """Every module `source` imports, with its line: `from a import b` names both `a` and `a.b`,
    and relative imports are resolved against `module` (the dotted name of the file)."""
    package = module.rsplit(".", 1)[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            found.append((node.lineno, base))
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return found


def forbidden_imports(source: str, module: str) -> list[str]:
    """The imports in `source` that reach a forbidden module, as `line: module`."""
    return sorted({f"{line}: {name}" for line, name in imported_modules(source, module)
                   if any(name == bad or name.startswith(f"{bad}.") for bad in FORBIDDEN)})


SYNC_MODULES = sorted(SYNC_DIR.rglob("*.py"))


def module_name(path: Path) -> str:
    return ".".join(("hubnox", "sync", *path.relative_to(SYNC_DIR).with_suffix("").parts))


@pytest.mark.parametrize("path", SYNC_MODULES, ids=lambda path: path.relative_to(SYNC_DIR).as_posix())
def test_a_sync_module_imports_no_adapter_service_or_outside_library(path: Path) -> None:
    found = forbidden_imports(path.read_text(encoding="utf-8"), module_name(path))
    assert not found, f"{module_name(path)} imports what the sync must reach through its ports: {found}"


def test_importing_the_sync_loads_no_adapter_service_or_http_library() -> None:
    """The same rule through everything the sync imports in turn, in a fresh interpreter. botocore is
    left out: Powertools, behind `hubnox.observability`, brings it."""
    names = [module_name(path) for path in SYNC_MODULES]
    script = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        f"bad = {tuple(name for name in FORBIDDEN if name != 'botocore')!r}\n"
        "print(sorted(n for n in sys.modules if any(n == b or n.startswith(b + '.') for b in bad)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(SYNC_DIR.parents[1])}, timeout=60)
    assert done.stdout.strip() == "[]"


def test_the_check_sees_the_sync_modules() -> None:
    names = {path.name for path in SYNC_MODULES}
    assert {"runner.py", "poller.py", "reader.py", "notes.py", "ports.py"} <= names


def test_the_check_catches_every_form_of_import() -> None:
    source = "\n".join([
        "import boto3",
        "import hubnox.store.runs",
        "from hubnox.services import card",
        "from hubnox.web.render import render",
        "from hubnox.hubspot.client import HubSpotClient",
        "from ..store import runs",
        "def later():",
        "    import httpx",
        "from hubnox.hubspot.models import Deal",
        "from hubnox.records import Run",
        "from .ports import HubSpot",
    ])
    assert forbidden_imports(source, "hubnox.sync.example") == [
        "1: boto3", "2: hubnox.store.runs", "3: hubnox.services", "3: hubnox.services.card", "4: hubnox.web.render",
        "4: hubnox.web.render.render", "5: hubnox.hubspot.client", "5: hubnox.hubspot.client.HubSpotClient",
        "6: hubnox.store", "6: hubnox.store.runs", "8: httpx",
    ]


@pytest.mark.parametrize("name", [name for name in FORBIDDEN if name.startswith("hubnox.")])
def test_every_forbidden_hubnox_module_exists(name: str) -> None:
    """A module that moved must be named where it now lives, or the rule silently guards nothing."""
    assert importlib.util.find_spec(name) is not None, f"{name} is no module of hubnox: update FORBIDDEN"

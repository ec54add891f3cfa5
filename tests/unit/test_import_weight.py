"""A function's import stays as light as a bare Powertools HTTP handler's (the cold start budget).

A new Lambda container imports `functions/<name>/app.py` before its first request, and pays for every
module that import pulls in (compiled from source: the layer ships no `.pyc`). So an app.py imports
Powertools and `hubnox.entry` / `hubnox.observability` only; everything else is imported by `build`
(the first invocation) or by the route that needs it. This test catches a heavy import creeping back
into that path: it imports each function in a fresh interpreter, as Lambda and sandbox/gateway.py
load it, and checks what ended up in `sys.modules`. No timing: the figures are `python -m
benchmarks.coldstart`'s (README, cold start).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LAYER = REPO_ROOT / "layers" / "core"
FUNCTIONS = sorted(path.parent.name for path in (REPO_ROOT / "functions").glob("*/app.py"))

#: modules no function may import with its app.py, each with the reason it is heavy or needless there
FORBIDDEN = {
    "boto3": "its session and loaders; only a container's AWS clients need it (hubnox.wiring builds them)",
    "httpx": "drags in its CLI's click and pygments; only the HubSpot and Fortnox clients need it",
    "jinja2": "templates of the settings page, Replay pages and deal notes only",
    "pydantic": "the bare handler does without it; hubnox's models (config, settings, API models) build "
                "schemas at import",
    "aws_lambda_powertools.utilities.idempotency": "workflow executions only (services.workflows)",
    "aws_lambda_powertools.utilities.parameters": "the deployment's secrets, read once by hubnox.config",
    "hubnox.wiring": "imports every store and service a property builds (on first use only)",
    "hubnox.config": "pydantic; read by the container on the first invocation",
}

#: hubnox's modules an app.py may import: the entry, the shared Logger/Tracer/Metrics, the error types (no imports)
ALLOWED_HUBNOX = {"hubnox", "hubnox.entry", "hubnox.observability", "hubnox.errors"}

#: the child: the layer first, the function's directory second, `import <module>`; prints sys.modules
CHILD = """
import json, sys
sys.path[:0] = [{layer!r}, {fdir!r}]
import {module}
print(json.dumps(sorted(sys.modules)))
"""

BARE = '''
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

logger = Logger(service="bare")
tracer = Tracer(service="bare")
metrics = Metrics(namespace="bare", service="bare")
app = APIGatewayHttpResolver()
'''


def modules_after_import(fdir: Path, module: str) -> set[str]:
    """`sys.modules` of a fresh interpreter after importing `module` from `fdir`, compiled from source
    (an empty pycache prefix, nothing written), with no test's path or settings."""
    with tempfile.TemporaryDirectory(prefix="hubnox-pycache-") as pycache:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("PYTHONPATH", "HUBNOX_", "POWERTOOLS_"))}
        env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX=pycache, AWS_DEFAULT_REGION="eu-north-1")
        code = CHILD.format(layer=str(LAYER), fdir=str(fdir), module=module)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                              cwd=tempfile.gettempdir(), timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@cache
def bare_modules() -> frozenset[str]:
    with tempfile.TemporaryDirectory(prefix="hubnox-bare-") as folder:
        (Path(folder) / "bare.py").write_text(BARE)
        return frozenset(modules_after_import(Path(folder), "bare"))


def _top_packages(modules: set[str] | frozenset[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_the_bare_handler_needs_none_of_the_forbidden_modules() -> None:
    """The forbidden set is honest: a bare Powertools handler imports none of it (and botocore, which
    aws_xray_sdk's Tracer imports, is not in it for that reason)."""
    loaded = bare_modules()
    assert not {name for name in FORBIDDEN if name in loaded}
    assert "botocore" in _top_packages(loaded)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_function_imports_no_more_than_a_bare_powertools_handler(function: str) -> None:
    loaded = modules_after_import(REPO_ROOT / "functions" / function, "app")
    heavy = {name for name in FORBIDDEN if name in loaded}
    assert not heavy, f"{function}'s app.py imports {sorted(heavy)}: " + "; ".join(
        f"{name}: {FORBIDDEN[name]}" for name in sorted(heavy))
    hubnox = {name for name in loaded if name.split(".")[0] == "hubnox"}
    assert hubnox <= ALLOWED_HUBNOX, (f"{function}'s app.py imports {sorted(hubnox - ALLOWED_HUBNOX)}: "
                                      "import it in build() or in the route that needs it")
    # No third-party package the bare handler does without (Powertools' own utilities are fine).
    extra = _top_packages(loaded) - _top_packages(bare_modules()) - {"hubnox", "app"}
    assert not extra, f"{function}'s app.py imports packages a bare handler does not: {sorted(extra)}"

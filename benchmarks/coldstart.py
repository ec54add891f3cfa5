"""`python -m benchmarks.coldstart`: each function's import next to a bare Powertools HTTP handler's, as
a new Lambda container pays it.

A new Lambda container imports `functions/<name>/app.py` with the layer on `sys.path` and no `.pyc`
files for hubnox's code (the layer's /opt is read-only, so Python compiles every module each cold
start). So each measurement is a fresh interpreter that imports one module from a copy of the project
without `__pycache__`, with PYTHONDONTWRITEBYTECODE=1 (nothing is written back between rounds). The
installed packages (Powertools, pydantic, boto3) keep their `.pyc` files, as they do in a layer built
by pip. Bare handler and functions alternate, so a change in the machine's load hits both alike.

The figure is the CPU time (`time.process_time` in the child, around the import): on a shared machine
it is much steadier than wall time, which is reported beside it. Medians over the rounds; the ratio
is each function's median over the bare handler's.

An extra row, for information, imports each function from a copy whose layer files are compiled
(`compileall --invalidation-mode unchecked-hash`, as `make build` does): what a Lambda container pays
when the layer ships its `.pyc` files.

A third figure, `first_use`, is what the first request adds on top of the import in the same fresh
process: `build` over the container (`entry.handler`) and the container properties one representative
route uses (`FIRST_USE`), which import its services and build its boto3 clients, short of any network
call. Moving imports out of app.py must not just move their cost here.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]

#: the issue's goal: each function's import at most this many times the bare handler's
GOAL_RATIO = 1.3

#: a bare Powertools HTTP handler: Logger, Tracer, Metrics, resolver and one decorated handler
BARE_HANDLER = '''"""A bare Powertools HTTP handler: Logger, Tracer, Metrics, resolver."""
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

logger = Logger(service="bare")
tracer = Tracer(service="bare")
metrics = Metrics(namespace="bare", service="bare")
app = APIGatewayHttpResolver()


@app.get("/hello")
def hello() -> dict:
    return {"ok": True}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)
'''

#: the child: the layer first, the function's directory second, then one timed import (as sandbox/gateway.py
#: and Lambda load a function), printed as JSON
CHILD = """
import json, sys, time
sys.path[:0] = [{layer!r}, {fdir!r}]
wall, cpu = time.perf_counter(), time.process_time()
import {module}
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
print(json.dumps({{"cpu_ms": cpu * 1000, "wall_ms": wall * 1000, "modules": len(sys.modules)}}))
"""


#: per function, the container properties its representative route builds on its first request
FIRST_USE = {
    "crm_card": ("card_service", "card_actions"),
    "oauth": ("connection_service",),
    "poller": ("portal_poll", "poll_queue"),
    "replay": ("replay_pages",),
    "settings": ("sessions", "portal_settings", "signer"),
    "webhooks": ("webhooks",),
    "worker": ("job_runner",),
    "workflow_action": ("workflow_actions", "nonces"),
}

#: the child for the first request: the import, then `build` and the route's container properties, timed apart
FIRST_USE_CHILD = """
import json, sys, time
sys.path[:0] = [{layer!r}, {fdir!r}]
cpu = time.process_time()
import app
imported = time.process_time()
app.entry.handler
for name in {properties!r}:
    getattr(app.entry.container, name)
done = time.process_time()
print(json.dumps({{"cpu_ms": (done - cpu) * 1000, "import_ms": (imported - cpu) * 1000,
                   "first_use_ms": (done - imported) * 1000, "wall_ms": 0, "modules": len(sys.modules)}}))
"""


def functions(root: Path = REPO_ROOT) -> list[str]:
    """The functions: each directory under functions/ with an app.py."""
    return sorted(path.parent.name for path in (root / "functions").glob("*/app.py"))


def copy_project(target: Path, *, compiled: bool = False, source: Path = REPO_ROOT) -> Path:
    """The layer and the functions copied to `target` without `__pycache__`; `compiled` compiles the layer
    as `make build` does (unchecked-hash `.pyc` files: a read-only layer never checks the sources)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(source / "layers" / "core" / "hubnox", target / "layers" / "core" / "hubnox", ignore=ignore)
    shutil.copytree(source / "functions", target / "functions", ignore=ignore)
    (target / "bare").mkdir()
    (target / "bare" / "bare.py").write_text(BARE_HANDLER)
    if compiled:
        compileall.compile_dir(str(target / "layers" / "core"), quiet=1,
                               invalidation_mode=compileall.py_compile.PycInvalidationMode.UNCHECKED_HASH)
    return target


def _environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHONPATH", "HUBNOX_"))}
    env.update(PYTHONDONTWRITEBYTECODE="1", AWS_DEFAULT_REGION=env.get("AWS_DEFAULT_REGION", "eu-north-1"),
               POWERTOOLS_TRACE_DISABLED="1", POWERTOOLS_METRICS_NAMESPACE="bench",
               # the first-use child builds a container: a signing key and dummy credentials, no network call
               SIGNING_KEY="coldstart-benchmark-signing-key", AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing")
    env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def import_once(root: Path, fdir: Path, module: str, *, first_use: tuple[str, ...] | None = None) -> dict[str, float]:
    """One fresh interpreter importing `module` from `fdir` with `root`'s layer first on the path (and
    with `first_use`, building the handler and those container properties after it)."""
    if first_use is None:
        code = CHILD.format(layer=str(root / "layers" / "core"), fdir=str(fdir), module=module)
    else:
        code = FIRST_USE_CHILD.format(layer=str(root / "layers" / "core"), fdir=str(fdir), properties=first_use)
    # Our own interpreter running our own fixed script: no untrusted input.
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,  # noqa: S603
                          env=_environment(), cwd=str(root), check=False)
    if done.returncode != 0:
        raise RuntimeError(f"importing {module} from {fdir} failed:\n{done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _summary(samples: list[dict[str, float]], bare: dict[str, float] | None) -> dict[str, Any]:
    cpu = statistics.median(sample["cpu_ms"] for sample in samples)
    wall = statistics.median(sample["wall_ms"] for sample in samples)
    row: dict[str, Any] = {"cpu_ms": round(cpu, 1), "wall_ms": round(wall, 1),
                           "modules": int(statistics.median(sample["modules"] for sample in samples)),
                           "cpu_samples": [round(sample["cpu_ms"], 1) for sample in samples]}
    if bare is not None:
        row["cpu_ratio"] = round(cpu / bare["cpu_ms"], 2)
        row["wall_ratio"] = round(wall / bare["wall_ms"], 2)
        row["pass"] = row["cpu_ratio"] <= GOAL_RATIO
    return row


def measure(rounds: int = 5, *, compiled_row: bool = True, first_use: bool = True,
            source: Path = REPO_ROOT) -> dict[str, Any]:
    """Each function's import next to the bare handler's, in fresh processes, `rounds` times each.

    Answers `{"goal_ratio", "rounds", "loadavg_before", "loadavg_after", "bare": row, "functions":
    {name: row}, "compiled": {name: row}, "first_use": {name: {"import_ms", "first_use_ms", "cpu_ms"}}}`,
    a row holding the medians `cpu_ms`, `wall_ms`, the ratios
    `cpu_ratio` / `wall_ratio` to the bare handler of the same copy, `pass` (cpu ratio within the goal)
    and the module count."""
    names = functions()
    loadavg_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="hubnox-coldstart-") as scratch:
        plain = copy_project(Path(scratch) / "plain", source=source)
        compiled = copy_project(Path(scratch) / "compiled", compiled=True, source=source) if compiled_row else None
        bare: list[dict[str, float]] = []
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in names}
        compiled_samples: dict[str, list[dict[str, float]]] = {name: [] for name in names}
        first_samples: dict[str, list[dict[str, float]]] = {name: [] for name in names}
        for _ in range(rounds):
            for name in names:
                bare.append(import_once(plain, plain / "bare", "bare"))
                samples[name].append(import_once(plain, plain / "functions" / name, "app"))
                if compiled is not None:
                    compiled_samples[name].append(import_once(compiled, compiled / "functions" / name, "app"))
                if first_use and name in FIRST_USE:
                    first_samples[name].append(import_once(plain, plain / "functions" / name, "app",
                                                           first_use=FIRST_USE[name]))
    bare_row = _summary(bare, None)
    return {
        "goal_ratio": GOAL_RATIO,
        "rounds": rounds,
        "python": sys.version.split()[0],
        "loadavg_before": [round(value, 2) for value in loadavg_before],
        "loadavg_after": [round(value, 2) for value in os.getloadavg()],
        "bare": bare_row,
        "functions": {name: _summary(samples[name], bare_row) for name in names},
        "compiled": ({name: _summary(compiled_samples[name], bare_row) for name in names} if compiled_row else {}),
        "first_use": {name: {key: round(statistics.median(sample[key] for sample in samples), 1)
                             for key in ("import_ms", "first_use_ms", "cpu_ms")}
                      for name, samples in first_samples.items() if samples},
    }


def table(result: dict[str, Any]) -> str:
    """The result as a Markdown table: CPU and wall medians, ratios to the bare handler, the goal."""
    lines = [
        f"Import in a fresh process, no project .pyc, median of {result['rounds']} "
        f"(load {result['loadavg_before'][0]:.2f} -> {result['loadavg_after'][0]:.2f}):",
        "",
        "| function | CPU ms | CPU ratio | wall ms | wall ratio | goal | compiled layer CPU ms (ratio) |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: |",
        f"| bare Powertools handler | {result['bare']['cpu_ms']:.0f} | 1.00 "
        f"| {result['bare']['wall_ms']:.0f} | 1.00 | | |",
    ]
    for name, row in result["functions"].items():
        compiled = result["compiled"].get(name)
        extra = f"{compiled['cpu_ms']:.0f} ({compiled['cpu_ratio']:.2f})" if compiled else ""
        verdict = f"≤ {result['goal_ratio']} {'met' if row['pass'] else 'NOT met'}"
        lines.append(f"| {name} | {row['cpu_ms']:.0f} | {row['cpu_ratio']:.2f} | {row['wall_ms']:.0f} "
                     f"| {row['wall_ratio']:.2f} | {verdict} | {extra} |")
    if result.get("first_use"):
        lines += ["", "First request in the same fresh process (CPU ms, medians): import, then build and the route's "
                  "container properties (`FIRST_USE`):", "",
                  "| function | import | first use | together |", "| --- | ---: | ---: | ---: |"]
        for name, row in result["first_use"].items():
            lines.append(f"| {name} | {row['import_ms']:.0f} | {row['first_use_ms']:.0f} | {row['cpu_ms']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.coldstart", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="fresh imports per function and for the bare handler")
    parser.add_argument("--no-compiled", action="store_true", help="skip the compiled-layer row")
    parser.add_argument("--no-first-use", action="store_true", help="skip the first request's figures")
    parser.add_argument("--source", type=Path, default=REPO_ROOT,
                        help="the checkout to measure (another revision's, to compare): its layers/ and functions/")
    parser.add_argument("--json", type=Path, help="also write the result as JSON to this file")
    args = parser.parse_args(argv)
    result = measure(args.rounds, compiled_row=not args.no_compiled, first_use=not args.no_first_use,
                     source=args.source)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

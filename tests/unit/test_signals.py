"""The operator's signals: each run counted by outcome, kind and error code, each 429 by API, in
CloudWatch's embedded metric format on stdout, with dimensions from closed sets only (every custom
metric costs money, so an unexpected code must not make a new one)."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from hubnox.api_http import send_once
from hubnox.errors import TransientError
from hubnox.jobs import submit
from hubnox.records import Run, RunRequest
from hubnox.signals import ERROR_CODES, OTHER, RunSignals, count_rate_limited, error_code_dimension
from tests.support.clock import FakeClock
from tests.support.fakes import Queue, Runs
from tests.support.functions import REPO_ROOT

LAYER = REPO_ROOT / "layers" / "core" / "hubnox"


def published(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Each metric datum printed since the last call: its name, dimensions and value."""
    found = []
    for line in capsys.readouterr().out.splitlines():
        if '"_aws"' not in line:
            continue
        document = json.loads(line)
        [directive] = document["_aws"]["CloudWatchMetrics"]
        [[*dimension_names]] = directive["Dimensions"]
        for metric in directive["Metrics"]:
            found.append({"namespace": directive["Namespace"], "name": metric["Name"],
                          "dimensions": {name: document[name] for name in dimension_names},
                          "value": sum(document[metric["Name"]])})
    return found


def run(status: str, kind: str = "create_document", error_code: str | None = None) -> Run:
    return Run(run_id="01JDQ7Z5M3X8R2K9V4T6W0B1C7", portal_id="102670506", kind=kind,  # type: ignore[arg-type]
               trigger="workflow", status=status, created_at=0.0, error_code=error_code)  # type: ignore[arg-type]


def test_a_failed_run_counts_as_failed_for_its_kind_and_once_under_its_error_code(capsys):
    RunSignals().finished(run("failed", "sync_customer", "MISSING_COMPANY"))

    assert published(capsys) == [
        {"namespace": "hubnox", "name": "RunsFailed", "value": 1.0,
         "dimensions": {"service": "hubnox", "Kind": "sync_customer"}},
        {"namespace": "hubnox", "name": "RunsFailedByCode", "value": 1.0,
         "dimensions": {"service": "hubnox", "ErrorCode": "MISSING_COMPANY"}},
    ]


def test_a_succeeded_run_counts_as_succeeded_for_its_kind_and_nothing_else(capsys):
    RunSignals().finished(run("succeeded", "sync_products"))

    assert published(capsys) == [{"namespace": "hubnox", "name": "RunsSucceeded", "value": 1.0,
                                  "dimensions": {"service": "hubnox", "Kind": "sync_products"}}]


def test_a_run_that_is_not_over_is_not_counted(capsys):
    RunSignals().finished(run("running"))

    assert published(capsys) == []


def test_a_run_whose_job_could_not_be_queued_counts_as_failed_not_queued(capsys):
    queue = Queue()
    queue.down = RuntimeError("the queue is unreachable")

    with pytest.raises(RuntimeError):
        submit(Runs(FakeClock()), queue, RunRequest(portal_id="102670506", kind="sync_products", trigger="settings"))

    assert [(datum["name"], datum["dimensions"]) for datum in published(capsys)] == [
        ("RunsFailed", {"service": "hubnox", "Kind": "sync_products"}),
        ("RunsFailedByCode", {"service": "hubnox", "ErrorCode": "NOT_QUEUED"}),
    ]


def test_a_code_hubnox_does_not_list_is_counted_under_other_and_never_under_itself(capsys):
    RunSignals().finished(run("failed", error_code="SOMETHING_NEW_42"))

    [_, by_code] = published(capsys)
    assert by_code["dimensions"]["ErrorCode"] == OTHER


@pytest.mark.parametrize(("code", "counted_as"), [
    ("ARTICLE_MISSING", "ARTICLE_MISSING"),
    ("RATE_LIMITED", "RATE_LIMITED"),
    ("FORTNOX_2000423", "FORTNOX_2000423"),  # a Fortnox code hubnox explains keeps its own value
    ("FORTNOX_9999999", "FORTNOX"),  # any other Fortnox code counts under Fortnox
    ("FORTNOX_HTTP_418", "FORTNOX"),
    ("HUBSPOT_VALIDATION_ERROR", "HUBSPOT"),  # HubSpot's categories are HubSpot's to add to
    ("internal", OTHER),
    ("", OTHER),
    (None, OTHER),
])
def test_error_codes_come_from_a_closed_set(code, counted_as):
    assert error_code_dimension(code) == counted_as


def codes_written_in(source: str) -> tuple[set[str], set[str]]:
    """The error codes a module writes: literal codes (a `code=` argument, a class's `code`
    attribute, the code a run store's `fail` records, either branch of a conditional, a module
    constant named there) and the constant prefixes of f-string codes."""
    literals: set[str] = set()
    prefixes: set[str] = set()
    tree = ast.parse(source)
    constants = {target.id: statement.value.value for statement in tree.body if isinstance(statement, ast.Assign)
                 and isinstance(statement.value, ast.Constant) and isinstance(statement.value.value, str)
                 for target in statement.targets if isinstance(target, ast.Name)}

    def collect(value: ast.expr) -> None:
        if isinstance(value, ast.Name) and value.id in constants:
            literals.add(constants[value.id])
        elif isinstance(value, ast.Constant) and isinstance(value.value, str):
            literals.add(value.value)
        elif isinstance(value, ast.IfExp):
            collect(value.body)
            collect(value.orelse)
        elif isinstance(value, ast.JoinedStr) and value.values and isinstance(value.values[0], ast.Constant):
            prefixes.add(str(value.values[0].value))

    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in ("code", "error_code"):
            collect(node.value)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "fail"
              and len(node.args) >= 3):
            collect(node.args[2])  # RunLog.fail(portal_id, run_id, error_code, ...)
        elif isinstance(node, ast.ClassDef):
            for statement in node.body:
                targets = (statement.targets if isinstance(statement, ast.Assign) else
                           [statement.target] if isinstance(statement, ast.AnnAssign) else [])
                value = getattr(statement, "value", None)
                if value is not None and any(isinstance(t, ast.Name) and t.id == "code" for t in targets):
                    collect(value)
    return literals, prefixes


def test_every_error_code_the_layer_writes_is_counted_under_its_own_name_or_its_system():
    literals: set[str] = set()
    prefixes: set[str] = set()
    for path in sorted(LAYER.rglob("*.py")):
        found, starts = codes_written_in(path.read_text(encoding="utf-8"))
        literals |= found
        prefixes |= starts

    assert {"MISSING_COMPANY", "UPSTREAM_UNAVAILABLE", "RECONNECT", "NOT_QUEUED"} <= literals  # the scan works
    unlisted = sorted(code for code in literals if code not in ERROR_CODES)
    assert not unlisted, f"add these codes to hubnox.signals.ERROR_CODES: {unlisted}"
    assert prefixes, "the scan sees the codes made with f-strings"
    assert {prefix: error_code_dimension(f"{prefix}X") for prefix in prefixes} == {
        prefix: prefix.split("_")[0] for prefix in prefixes}  # FORTNOX_..., FORTNOX_HTTP_...: FORTNOX


def test_the_scan_sees_every_form_a_code_is_written_in():
    source = "\n".join([
        "class Refused(Exception):",
        "    code = 'REFUSED'",
        "class Typed(Exception):",
        "    code: str = 'TYPED'",
        "raise Oops('x', code='A' if late else 'B')",
        "raise Oops('x', code=f'SYSTEM_{number}')",
        "GONE = 'GONE'",
        "runs.fail(portal_id, run_id, GONE, 'The record is gone.')",
        "runs.fail(portal_id, run_id, 'LOST', 'The answer was lost.')",
    ])
    assert codes_written_in(source) == ({"REFUSED", "TYPED", "A", "B", "GONE", "LOST"}, {"SYSTEM_"})


def test_a_429_is_counted_for_the_api_that_sent_it(capsys):
    http = httpx.Client(base_url="https://api.example.test",
                        transport=httpx.MockTransport(lambda request: httpx.Response(429)))

    with pytest.raises(TransientError):
        send_once(http, "POST", "/oauth/token", system="HubSpot")

    assert published(capsys) == [{"namespace": "hubnox", "name": "RateLimited", "value": 1.0,
                                  "dimensions": {"service": "hubnox", "System": "HubSpot"}}]


def test_an_api_hubnox_does_not_know_counts_under_other(capsys):
    count_rate_limited("Example")

    [datum] = published(capsys)
    assert datum["dimensions"]["System"] == OTHER


def test_the_scanned_layer_is_the_one_the_tests_import():
    import hubnox

    assert Path(hubnox.__file__).resolve().parent == LAYER.resolve()

"""The benchmark suite's bookkeeping, without the stack: goals and verdicts, the plug-in call sites
for benchmarks a build may not have, the README block between its markers and the JSON record."""

from __future__ import annotations

import json
import sys
import types
from typing import Any

import pytest

from benchmarks import latency, report, suite
from benchmarks.report import BEGIN, END, Figure, Section


def _opts(**changes: Any) -> suite.Options:
    args = suite.parse(["--quick"])
    opts = suite.options(args)
    for key, value in changes.items():
        setattr(opts, key, value)
    return opts


# -- README block -------------------------------------------------------------------------------------


def test_the_readme_block_is_replaced_between_its_markers_only() -> None:
    text = f"intro\n{BEGIN}\nold table\n{END}\nafter\n"
    assert report.rewrite_between_markers(text, "new table\n") == f"intro\n{BEGIN}\nnew table\n{END}\nafter\n"


@pytest.mark.parametrize("text", ["no markers", f"{BEGIN}\na\n{END}\n{BEGIN}\nb\n{END}", f"{END} before {BEGIN}"])
def test_a_readme_without_exactly_one_block_is_refused(text: str) -> None:
    with pytest.raises(report.MarkersMissing):
        report.rewrite_between_markers(text, "x")


def test_the_readme_needs_a_complete_run() -> None:
    with pytest.raises(SystemExit):
        suite.parse(["--only", "calls", "--readme", "README.md"])
    with pytest.raises(SystemExit):
        suite.parse(["--only", "calls,speed"])
    assert suite.parse(["--only", "latency, calls"]).names == ["latency", "calls"]
    assert "status" not in suite.parse(["--status-documents", "0"]).names


# -- JSON record --------------------------------------------------------------------------------------


def test_the_json_record_names_command_machine_load_and_each_figures_verdict(tmp_path: Any) -> None:
    section = Section("calls", "Calls", [], [Figure("calls.later.fortnox", 6, "calls", "≤ 4", False),
                                             Figure("latency.p50", 2.5, "s")])
    record = report.results_json(["python", "-m", "benchmarks"], "2026-12-07T01:00:00Z", [1.0, 2.0, 3.0],
                                 [section], quick=True)
    report.write_json(tmp_path / "r" / "latest.json", record)
    saved = json.loads((tmp_path / "r" / "latest.json").read_text())
    assert saved["command"] == ["python", "-m", "benchmarks"] and saved["quick"] is True
    assert set(saved["machine"]) >= {"platform", "python", "nproc", "cpu_model", "loadavg_before", "loadavg_after"}
    assert set(saved["git"]) == {"sha", "dirty"}
    assert saved["results"][0] == {"section": "calls", "name": "calls.later.fortnox", "value": 6, "unit": "calls",
                                   "goal": "≤ 4", "pass": False, "details": {}}
    assert saved["results"][1]["goal"] == "recorded" and saved["results"][1]["pass"] is None
    block = report.markdown(saved, [section])
    assert "quick run" in block and "1.00 / 2.00 / 3.00 before" in block


# -- plug-in call sites ---------------------------------------------------------------------------------


def test_a_missing_benchmark_module_is_not_measured_but_a_broken_one_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    assert suite._plugin("benchmarks.not_here", "measure") is None
    broken = "benchmarks.broken_for_test"

    def fail_import(name: str, *args: Any, **kwargs: Any) -> Any:
        raise ModuleNotFoundError("No module named 'somedependency'", name="somedependency")

    monkeypatch.setattr(suite.importlib, "import_module", fail_import)
    with pytest.raises(ModuleNotFoundError):
        suite._plugin(broken, "measure")


def test_call_with_offers_only_what_a_benchmark_takes() -> None:
    assert suite.call_with(lambda rounds: rounds, rounds=3, quick=True) == 3
    assert suite.call_with(lambda **kw: sorted(kw), rounds=3, quick=True) == ["quick", "rounds"]


def test_cold_start_ratios_are_held_to_their_goal(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("benchmarks.coldstart")
    module.measure = lambda rounds: {  # type: ignore[attr-defined]
        "bare": {"cpu_ms": 400.0, "wall_ms": 500.0},
        "functions": {"crm_card": {"cpu_ms": 480.0, "wall_ms": 600.0}, "worker": {"cpu_ms": 1000.0, "ratio": 2.5}},
        "compiled": {"worker": {"cpu_ms": 800.0, "ratio": 2.0}}}
    monkeypatch.setitem(sys.modules, "benchmarks.coldstart", module)
    section = suite.coldstart_section(_opts())
    verdicts = {f.name: (f.value, f.passed) for f in section.figures}
    assert verdicts["coldstart.crm_card.ratio"] == (1.2, True)
    assert verdicts["coldstart.worker.ratio"] == (2.5, False)
    assert verdicts["coldstart.worker.compiled_ratio"] == (2.0, None)


def test_without_a_cold_start_module_the_figure_is_not_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "benchmarks.coldstart", None)  # a build without the module
    section = suite.coldstart_section(_opts())
    [figure] = section.figures
    assert figure.value is None and figure.passed is None and "not part of this build" in section.lines[0]


def test_a_portals_backlog_is_held_to_ninety_percent_and_portals_side_by_side_to_their_own_budgets(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """benchmarks.drain answers per company (its `measure_drain(stack, deals, portals, trigger)`); the
    suite drains one portal's backlog from the workflow action and from a trigger stage, each held to
    90 % of Fortnox's limit, then three portals side by side, each held to its own budget (no 5 s
    over 25, no 429) with its share recorded, on its own stack."""
    asked: list[tuple[Any, int, int, str]] = []

    def measure_drain(stack: Any, deals: int, portals: int, trigger: str) -> dict[str, Any]:
        asked.append((stack, deals, portals, trigger))
        if portals == 1:
            return {"companies": [{"deals": deals, "seconds_to_drafts": 180.0, "fortnox_calls": 800,
                                   "share_of_limit": 0.92, "rate_limited": 0, "drafts": deals}]}
        return {"companies": [
            {"deals": deals, "seconds_to_drafts": 100.0, "fortnox_calls": 480, "share_of_limit": 0.96,
             "rate_limited": 1, "busiest_5s": 25, "drafts": deals},
            {"deals": deals, "seconds_to_drafts": 100.0, "fortnox_calls": 400, "share_of_limit": 0.8,
             "rate_limited": 0, "busiest_5s": 26, "drafts": deals},
            {"deals": deals, "seconds_to_drafts": 100.0, "fortnox_calls": 430, "share_of_limit": 0.86,
             "rate_limited": 0, "busiest_5s": 23, "drafts": deals}]}

    module = types.ModuleType("benchmarks.drain")
    module.measure_drain = measure_drain  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "benchmarks.drain", module)
    bench = types.SimpleNamespace(stack="the suite's stack")
    section = suite.drain_section(bench, _opts(drain_deals=210))

    assert asked == [("the suite's stack", 210, 1, "workflow"), ("the suite's stack", 210, 1, "stage"),
                     ("the suite's stack", 70, 3, "workflow")]
    shares = {f.name: (f.value, f.passed) for f in section.figures if f.name.endswith("share_of_limit")}
    assert shares == {"drain.one_portal.share_of_limit": (0.92, True),
                      "drain.one_portal_trigger_stage.share_of_limit": (0.92, True),
                      "drain.portal_1_of_3_in_parallel.share_of_limit": (0.96, None),
                      "drain.portal_2_of_3_in_parallel.share_of_limit": (0.8, None),
                      "drain.portal_3_of_3_in_parallel.share_of_limit": (0.86, None)}
    own = {f.name: (f.value, f.passed) for f in section.figures if f.name.endswith("busiest_5s")}
    assert own == {"drain.portal_1_of_3_in_parallel.busiest_5s": (25, False),  # within, but a 429
                   "drain.portal_2_of_3_in_parallel.busiest_5s": (26, False),
                   "drain.portal_3_of_3_in_parallel.busiest_5s": (23, True)}
    limited = {f.name: f.passed for f in section.figures if f.name.endswith("rate_limited")}
    assert limited["drain.portal_1_of_3_in_parallel.rate_limited"] is False
    rows = [line for line in section.lines if line.startswith("| one portal") or line.startswith("| portal")]
    assert "92.0%" in rows[0] and "≥ 90%, 0 × 429: met" in rows[0]
    assert "**not met**" in rows[2] and "**not met**" in rows[3] and "own budget (busiest 5 s 23 ≤ 25)" in rows[4]
    assert "**not met**" not in rows[4]


def test_each_scenario_is_held_to_its_own_goals(monkeypatch: pytest.MonkeyPatch) -> None:
    def calls_per_scenario(bench: Any) -> dict[str, dict[str, Any]]:
        return {"later deal, owner and 1 contact": {"fortnox": 4, "hubspot": 8, "seconds": 1.0, "rate_limited": 0,
                                                     "fortnox_goal": 4, "hubspot_goal": 7},
                "first deal, 10 new articles": {"fortnox": 15, "hubspot": 8, "seconds": 3.0, "rate_limited": 0,
                                                "fortnox_goal": 15, "hubspot_goal": 8}}

    import benchmarks.calls as calls

    monkeypatch.setattr(calls, "calls_per_scenario", calls_per_scenario)
    section = suite.calls_section(object(), _opts())
    verdicts = {f.name: f.passed for f in section.figures}
    assert verdicts == {"calls.later_deal_owner_and_1_contact.fortnox": True,
                        "calls.later_deal_owner_and_1_contact.hubspot": False,
                        "calls.first_deal_10_new_articles.fortnox": True,
                        "calls.first_deal_10_new_articles.hubspot": True}


# -- latency from the request logs ------------------------------------------------------------------------


def test_draft_and_note_are_found_by_deal_and_timed_when_answered() -> None:
    fortnox = [
        {"method": "POST", "path": "/3/invoices", "status": 201, "done_at": 9.0,
         "body": json.dumps({"Invoice": {"ExternalInvoiceReference1": "77"}})},
        {"method": "POST", "path": "/3/invoices", "status": 201, "done_at": 10.5,
         "body": json.dumps({"Invoice": {"ExternalInvoiceReference1": "42"}})},
    ]
    hubspot = [
        {"method": "POST", "path": "/crm/objects/2026-03/notes", "status": 201, "done_at": 11.0,
         "body": json.dumps({"associations": [{"to": {"id": "77"}}]})},
        {"method": "POST", "path": "/crm/objects/2026-03/notes", "status": 201, "done_at": 12.0,
         "body": json.dumps({"associations": [{"to": {"id": "42"}}]})},
    ]
    assert latency.draft_done(fortnox, "42") == 10.5
    assert latency.note_done(hubspot, "42") == 12.0
    assert latency.draft_done(fortnox, "5") is None and latency.note_done(hubspot, "5") is None


def test_percentiles_are_measured_values() -> None:
    values = [float(v) for v in range(1, 21)]
    assert latency.percentile(values, 0.5) == 10.0
    assert latency.percentile(values, 0.95) == 19.0
    assert latency.percentile([3.0], 0.95) == 3.0

"""The benchmark suite behind `python -m benchmarks` and `make bench`: which benchmarks run, in which
order, with which goals, and where their tables, figures and logs go.

Each benchmark is a named section in `SECTIONS`: the calls per scenario (`benchmarks.calls`), cold
start (`benchmarks.coldstart`, reported as "not measured" where a build lacks it), the drain
(`benchmarks.drain`), latency, the status cycle, the card and the document build.

The local stack runs in this process and its functions log through Powertools to stdout, so while
the suite runs, file descriptors 1 and 2 go to a log file (named at the end) and only the tables go
to the terminal. The run's figures go to a JSON file and, with `--readme`, between the README's
`<!-- bench:begin -->` and `<!-- bench:end -->` markers.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.drain import FORTNOX_LIMIT, FORTNOX_WINDOW, GOAL_SHARE, met
from benchmarks.report import Figure, Section, table, tenths, verdict

DEFAULT_JSON = "benchmarks/results/latest.json"


@dataclass
class Options:
    """What a run measures and how much: `quick` shrinks every size for a run of a few minutes."""

    quick: bool
    repeats: int
    status_documents: int
    latency_deals: int
    drain_deals: int
    drain_portals: int
    coldstart_rounds: int


def options(args: argparse.Namespace) -> Options:
    quick = bool(args.quick)
    return Options(
        quick=quick,
        repeats=args.repeats if args.repeats is not None else (1 if quick else 3),
        status_documents=args.status_documents if args.status_documents is not None else (100 if quick else 1000),
        latency_deals=args.latency_deals if args.latency_deals is not None else (5 if quick else 20),
        drain_deals=args.drain_deals if args.drain_deals is not None else (12 if quick else 200),
        drain_portals=3,
        coldstart_rounds=2 if quick else 5,
    )


def _plugin(module: str, name: str) -> Callable[..., Any] | None:
    """`module.name` when this build has it; None when the module itself is missing (any other
    import error is a bug in it and propagates)."""
    try:
        loaded = importlib.import_module(module)
    except ModuleNotFoundError as missing:
        if missing.name == module:
            return None
        raise
    found = getattr(loaded, name, None)
    return found if callable(found) else None


def call_with(function: Callable[..., Any], **offered: Any) -> Any:
    """Call `function` with those of `offered` it takes by name: the suite offers what it knows (the
    bench, repeats, quick), each benchmark takes what it needs."""
    parameters = inspect.signature(function).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return function(**offered)
    return function(**{k: v for k, v in offered.items() if k in parameters})


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _not_measured(name: str, title: str, what: str, goal: str) -> Section:
    figure = Figure(f"{name}", None, "", goal, None, {"missing": what})
    return Section(name, title, [f"Not measured: {what} is not part of this build. Goal: {goal}."], [figure])


# -- sections without the stack ---------------------------------------------------------------------


def build_section(opts: Options) -> Section:
    from benchmarks.__main__ import build_memory

    rows, figures = [], []
    for lines in (10, 100, 1000):
        m = build_memory(lines)
        rows.append([lines, f"{m['ms']:.1f} ms", f"{m['peak_kib']:.0f} KiB", verdict(None)])
        figures += [Figure(f"build.{lines}_lines.time", round(m["ms"], 2), "ms"),
                    Figure(f"build.{lines}_lines.peak_heap", round(m["peak_kib"]), "KiB")]
    return Section("build", "Pure document build (sync.documents.build_document), one deal",
                   table(["line items", "time", "peak heap", "goal"], rows, ["r", "r", "r", "l"]), figures)


COLDSTART_GOAL = 1.3


def coldstart_section(opts: Options) -> Section:
    """Each function's import in a fresh process without the project's .pyc files, next to a bare
    Powertools handler's in the same run (`benchmarks.coldstart.measure(rounds)`)."""
    title = "Cold start: each function's import next to a bare Powertools handler's, fresh processes, no project .pyc"
    measure = _plugin("benchmarks.coldstart", "measure")
    if measure is None:
        return _not_measured("coldstart", title, "benchmarks.coldstart", f"each function ≤ {COLDSTART_GOAL} × bare")
    result = call_with(measure, rounds=opts.coldstart_rounds, quick=opts.quick)
    return coldstart_table(title, result)


def coldstart_table(title: str, result: dict[str, Any]) -> Section:
    """Rows per function from `{"bare": {"cpu_ms", "wall_ms"}, "functions": {name: {"cpu_ms",
    "wall_ms", "ratio"?}}, "compiled"?: {name: {...}}}`; the ratio is on CPU time (steadier than wall
    time on a shared machine) unless the result gives its own."""
    bare = result.get("bare", {})
    rows = [["bare Powertools handler", _ms(bare.get("cpu_ms")), _ms(bare.get("wall_ms")), "1.00", "(reference)"]]
    figures = [Figure("coldstart.bare.cpu", bare.get("cpu_ms"), "ms")]
    for name, m in sorted(result.get("functions", {}).items()):
        ratio = m.get("ratio")
        if ratio is None and m.get("cpu_ms") and bare.get("cpu_ms"):
            ratio = m["cpu_ms"] / bare["cpu_ms"]
        passed = None if ratio is None else ratio <= COLDSTART_GOAL
        rows.append([name, _ms(m.get("cpu_ms")), _ms(m.get("wall_ms")),
                     "?" if ratio is None else f"{ratio:.2f}", f"≤ {COLDSTART_GOAL}: {verdict(passed)}"])
        figures.append(Figure(f"coldstart.{name}.ratio", None if ratio is None else round(ratio, 3), "× bare",
                              f"≤ {COLDSTART_GOAL}", passed, {k: v for k, v in m.items() if k != "ratio"}))
    for name, m in sorted(result.get("compiled", {}).items()):
        rows.append([f"{name}, layer compiled (.pyc)", _ms(m.get("cpu_ms")), _ms(m.get("wall_ms")),
                     f"{m['ratio']:.2f}" if m.get("ratio") is not None else "?", "recorded"])
        figures.append(Figure(f"coldstart.{name}.compiled_ratio", m.get("ratio"), "× bare", details=m))
    lines = table(["function", "import CPU", "import wall", "ratio (CPU)", "goal"], rows, ["l", "r", "r", "r", "l"])
    return Section("coldstart", title, lines, figures)


def _ms(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f} ms"


# -- sections on the stack ---------------------------------------------------------------------------

FORTNOX_LATER_GOAL = 4
HUBSPOT_GOAL = 7


def calls_section(bench: Any, opts: Options) -> Section:
    """API calls per deal per scenario (`benchmarks.calls.calls_per_scenario`), each against its
    goal (the goals and why are in that module)."""
    from benchmarks.calls import calls_per_scenario

    rows = _scenario_rows(call_with(calls_per_scenario, bench=bench, repeats=opts.repeats, quick=opts.quick))
    lines_out, figures = [], []
    for s in rows:
        fx_goal = s.get("fortnox_goal", FORTNOX_LATER_GOAL)
        hs_goal = s.get("hubspot_goal", HUBSPOT_GOAL)
        fx_ok, hs_ok = s["fortnox_calls"] <= fx_goal, s["hubspot_calls"] <= hs_goal
        lines_out.append([s["scenario"], f"{s['fortnox_calls']} (≤ {fx_goal}: {verdict(fx_ok)})",
                          f"{s['hubspot_calls']} (≤ {hs_goal}: {verdict(hs_ok)})",
                          f"{s['seconds']:.2f} s", s.get("rate_limited", 0)])
        slug = _slug(s["scenario"])
        details = {k: v for k, v in s.items() if k not in ("fortnox_calls", "hubspot_calls")}
        figures += [Figure(f"calls.{slug}.fortnox", s["fortnox_calls"], "calls", f"≤ {fx_goal}", fx_ok, details),
                    Figure(f"calls.{slug}.hubspot", s["hubspot_calls"], "calls", f"≤ {hs_goal}", hs_ok, details)]
    note = ("One deal through the workflow action and the worker; calls are the requests each simulator "
            "received until the queue was empty (retries included, OAuth not). A later deal is a company's "
            "second, after its first made the customer and articles and Fortnox's 5 s window has cleared. "
            "A new article is two Fortnox calls: the article, then its row in the price list.")
    return Section("calls", "API calls per deal", table(
        ["scenario", "Fortnox calls (goal)", "HubSpot calls (goal)", "time", "429s"], lines_out,
        ["l", "r", "r", "r", "r"]), figures, note)


def _scenario_rows(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """`benchmarks.calls.calls_per_scenario`'s figures (scenario name to its calls and goals) as rows."""
    return [{"scenario": name, "fortnox_calls": r["fortnox"], "hubspot_calls": r["hubspot"],
             "seconds": r.get("seconds", 0.0), "rate_limited": r.get("rate_limited", 0),
             "fortnox_goal": r.get("fortnox_goal", FORTNOX_LATER_GOAL),
             "hubspot_goal": r.get("hubspot_goal", HUBSPOT_GOAL)}
            for name, r in results.items()]


def drain_runs(result: dict[str, Any], label: str) -> list[dict[str, Any]]:
    """`benchmarks.drain.measure_drain`'s companies as the drain table's rows: each company's deals,
    seconds to its last draft, Fortnox calls, share of Fortnox's limit, busiest 5 s and 429s. A
    `label` starting "one portal" names a run of one portal's backlog (its rest says how it was
    triggered); the others are portals drained side by side."""
    rows = []
    for number, company in enumerate(result.get("companies") or [], start=1):
        alone = label.startswith("one portal")
        if alone:
            name, caption = _slug(label), f"{label}, {company['deals']} deals"
        else:
            name, caption = f"portal_{number}_{_slug(label)}", f"portal {number} {label}, {company['deals']} deals"
        rows.append({"name": name, "label": caption, "alone": alone, "deals": company["deals"],
                     "seconds": company.get("seconds_to_drafts") or 0.0, "fortnox_calls": company["fortnox_calls"],
                     "share_of_limit": company.get("share_of_limit"), "rate_limited": company.get("rate_limited", 0),
                     "busiest_5s": company.get("busiest_5s"),
                     "drafts": company.get("drafts"), "hubspot_calls": company.get("hubspot_calls"),
                     "binding_limit": company.get("binding_limit"),
                     "share_of_binding_limit": company.get("share_of_binding_limit")})
    return rows


def drain_section(bench: Any, opts: Options) -> Section:
    """A backlog drained against Fortnox's limit (`benchmarks.drain.measure_drain`, every deal queued
    before the workers start): one portal's backlog of `drain_deals` from the workflow action, the
    same moved into a trigger stage (webhooks: one HubSpot call a deal less, so Fortnox's limit binds
    rather than HubSpot's), then `drain_portals` portals side by side with a third as many each, on
    the suite's own stack (moto's tables are the process's)."""
    from benchmarks.drain import measure_drain

    title = "Drain: a backlog of deals against Fortnox's 25 calls per 5 s"
    runs = drain_runs(measure_drain(bench.stack, deals=opts.drain_deals, portals=1, trigger="workflow"),
                      "one portal")
    runs += drain_runs(measure_drain(bench.stack, deals=opts.drain_deals, portals=1, trigger="stage"),
                       "one portal, trigger stage")
    side_by_side = max(1, opts.drain_deals // opts.drain_portals)
    runs += drain_runs(measure_drain(bench.stack, deals=side_by_side, portals=opts.drain_portals,
                                     trigger="workflow"), f"of {opts.drain_portals} in parallel")
    note = ("Every deal is queued before the workers start, and the drain is timed from their start to each "
            "company's last Fortnox call. A deal from the workflow action makes seven HubSpot calls (its "
            "callback is the seventh), one from a trigger stage six. A portal's backlog alone is held to "
            f"{GOAL_SHARE:.0%} of Fortnox's limit; portals side by side are held to their own budgets "
            f"(no company over {FORTNOX_LIMIT} calls in any 5 s, no 429), their share recorded.")
    rows, figures = [], []
    for run in runs:
        share = run.get("share_of_limit")
        if share is None and run.get("seconds"):
            share = run["fortnox_calls"] / run["seconds"] / (FORTNOX_LIMIT / FORTNOX_WINDOW)
        limited = int(run.get("rate_limited", 0))
        label = str(run.get("label", f"{run.get('deals')} deals"))
        slug = str(run.get("name") or _slug(label))
        alone = bool(run.get("alone", True))
        ok = met({**run, "share_of_limit": share}, alone=alone)
        if alone:
            goal = f"≥ {GOAL_SHARE:.0%}, 0 × 429: {verdict(ok)}"
            figures.append(Figure(f"drain.{slug}.share_of_limit", None if share is None else round(share, 3),
                                  "of 5 calls/s", f"≥ {GOAL_SHARE}", ok, run))
        else:
            busiest = run.get("busiest_5s")
            goal = f"own budget (busiest 5 s {busiest} ≤ {FORTNOX_LIMIT}), 0 × 429: {verdict(ok)}"
            figures += [Figure(f"drain.{slug}.share_of_limit", None if share is None else round(share, 3),
                               "of 5 calls/s", details=run),
                        Figure(f"drain.{slug}.busiest_5s", busiest, "calls in a 5 s span",
                               f"≤ {FORTNOX_LIMIT}", ok)]
        rows.append([label, f"{run.get('seconds') or 0.0:.1f} s", run["fortnox_calls"],
                     f"{run['fortnox_calls'] / run['seconds']:.2f}/s" if run.get("seconds") else "?",
                     "?" if share is None else f"{tenths(share)}%", limited, goal, _binding(run)])
        figures.append(Figure(f"drain.{slug}.rate_limited", limited, "429s", "0", limited == 0))
        if run.get("share_of_binding_limit") is not None:
            figures.append(Figure(f"drain.{slug}.share_of_binding_limit", round(run["share_of_binding_limit"], 3),
                                  f"of the {run.get('binding_limit')} limit's floor"))
    return Section("drain", title, table(["backlog", "drained in", "Fortnox calls", "calls/s", "of the limit",
                                          "429s", "goal", "HubSpot calls: the binding limit"], rows,
                                         ["l", "r", "r", "r", "r", "r", "l", "l"]),
                   figures, note)


def _binding(run: dict[str, Any]) -> str:
    """The run's HubSpot calls and which service's limit sets its floor, with the share of that floor
    reached (recorded, no goal): a deal of few Fortnox calls makes seven HubSpot calls, and HubSpot's
    110 per 10 s then allows fewer deals a second than Fortnox's 25 per 5 s."""
    share = run.get("share_of_binding_limit")
    if share is None:
        return "?"
    return f"{run.get('hubspot_calls')}: {run.get('binding_limit')} {share:.0%}"


def latency_section(bench: Any, opts: Options) -> Section:
    from benchmarks import latency

    m = latency.measure(bench, opts.latency_deals)
    rows, figures = [], []
    for key, label in (("draft", "trigger → draft (Fortnox create answered)"),
                       ("note", "trigger → note (HubSpot note create answered)")):
        rows.append([label, f"{m[key]['p50']:.2f} s", f"{m[key]['p95']:.2f} s", verdict(None)])
        figures += [Figure(f"latency.{key}.p50", round(m[key]["p50"], 3), "s", details={"all": m[key]["all"]}),
                    Figure(f"latency.{key}.p95", round(m[key]["p95"], 3), "s")]
    note = (f"{m['injected_seconds'] * 1000:.0f} ms injected on every API call of both simulators "
            f"(`PUT /_sandbox/latency`), {m['deals']} later deals of {m['lines']} line items one at a time.")
    return Section("latency", "Latency with 300 ms per API call",
                   table(["path", "p50", "p95", "goal"], rows, ["l", "r", "r", "l"]), figures, note)


def card_section(bench: Any, opts: Options) -> Section:
    from benchmarks.__main__ import card_latency

    c = card_latency(bench)
    return Section("card", "App card for a deal, fetched as hubspot.fetch does", table(
        ["fetch", "time", "goal"], [["cold (first in five minutes)", f"{c['cold_ms']:.0f} ms", verdict(None)],
                                    ["from the cache", f"{c['warm_ms']:.0f} ms", verdict(None)]], ["l", "r", "l"]),
        [Figure("card.cold", round(c["cold_ms"]), "ms"), Figure("card.warm", round(c["warm_ms"]), "ms")])


def status_section(bench: Any, opts: Options) -> Section:
    from benchmarks import status_cycle

    documents = opts.status_documents
    measured = status_cycle.measure(bench, documents, min(status_cycle.DEFAULT_CUSTOMERS, documents))
    lines: list[str] = []
    status_cycle.report(measured, lines.append)
    title, body = lines[0].rstrip(":"), lines[1:]
    body = [line for line in body if line.startswith("|")] + [""] + [
        f"- {line.strip()}" for line in body if not line.startswith("|")]
    figures = []
    for cycle in measured["cycles"]:
        slug = _slug(cycle.name.split("(")[0])
        figures += [Figure(f"status.{slug}.fortnox", cycle.fortnox_calls, "calls"),
                    Figure(f"status.{slug}.hubspot", cycle.hubspot_calls, "calls"),
                    Figure(f"status.{slug}.rate_limited", cycle.rate_limited, "429s", "0", cycle.rate_limited == 0)]
    return Section("status", title, body, figures)


#: every benchmark, in the order it runs. The status cycle goes first on the stack, while its portal
#: is the stack's only one (each tick runs every connected portal's cycle); cold start and the build
#: run before the stack starts, so its threads do not load the machine under them.
SECTIONS: dict[str, tuple[bool, Callable[..., Section]]] = {
    "build": (False, build_section),
    "coldstart": (False, coldstart_section),
    "status": (True, status_section),
    "calls": (True, calls_section),
    "latency": (True, latency_section),
    "card": (True, card_section),
    "drain": (True, drain_section),
}
#: the README's order: the issue's four figures first
README_ORDER = ("calls", "coldstart", "drain", "latency", "status", "card", "build")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description="hubnox's benchmarks on the local stack, with their goals")
    parser.add_argument("--only", help=f"comma-separated benchmarks to run, of: {', '.join(SECTIONS)}")
    parser.add_argument("--quick", action="store_true", help="small sizes: a run of a few minutes")
    parser.add_argument("--json", default=DEFAULT_JSON, help=f"the results file (default {DEFAULT_JSON}; '' for none)")
    parser.add_argument("--readme", help="rewrite this README's block between the bench markers")
    parser.add_argument("--log", help="where the stack's logs go (default <tmp>/hubnox-bench-<time>.log)")
    parser.add_argument("--repeats", type=int, help="later deals measured per size (median reported)")
    parser.add_argument("--status-documents", type=int, help="hubnox invoices of the status cycle's portal (0: skip)")
    parser.add_argument("--latency-deals", type=int, help="deals measured one at a time with 300 ms per call")
    parser.add_argument("--drain-deals", type=int, help="deals in the drained backlog")
    args = parser.parse_args(argv)
    names = [n.strip() for n in (args.only or "").split(",") if n.strip()] or list(SECTIONS)
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        parser.error(f"--only: unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    if args.readme and args.only:
        parser.error("--readme needs every benchmark: the README block comes from one complete run (drop --only)")
    if args.status_documents == 0:
        names = [n for n in names if n != "status"]
    args.names = names
    return args


def run(args: argparse.Namespace, out: Callable[[str], None]) -> list[Section]:
    """Run the chosen sections in `SECTIONS` order, printing each table as it is done."""
    opts = options(args)
    sections: list[Section] = []

    def done(section: Section) -> None:
        sections.append(section)
        for line in section.markdown():
            out(line)

    chosen = [n for n in SECTIONS if n in args.names]
    for name in chosen:
        on_stack, measure = SECTIONS[name]
        if not on_stack:
            done(measure(opts))
    if any(SECTIONS[n][0] for n in chosen):
        from benchmarks.__main__ import Bench

        bench = Bench()
        try:
            for name in chosen:
                on_stack, measure = SECTIONS[name]
                if on_stack:
                    done(measure(bench, opts))
        finally:
            bench.close()
    return sorted(sections, key=lambda s: README_ORDER.index(s.name) if s.name in README_ORDER else 99)


def main(argv: list[str] | None = None) -> int:
    from sandbox.drill import stack_output_to

    args = parse(argv)
    log_path = args.log or os.path.join(tempfile.gettempdir(), f"hubnox-bench-{time.strftime('%Y%m%d-%H%M%S')}.log")
    command = ["python", "-m", "benchmarks", *(sys.argv[1:] if argv is None else argv)]
    date, load_before = report.started_at(), report.load_average()
    with stack_output_to(log_path) as out:
        out(f"hubnox benchmarks: {', '.join(args.names)}{' (quick)' if args.quick else ''}; "
            f"the stack's logs go to {log_path}")
        out("")
        sections = run(args, out)
        record = report.results_json(command, date, load_before, sections, quick=bool(args.quick))
        if args.json:
            report.write_json(args.json, record)
        if args.readme:
            report.rewrite_readme(args.readme, report.markdown(record, sections))
        failed = [r["name"] for r in record["results"] if r["pass"] is False]
        out(f"{len(record['results'])} figures, {len(failed)} below their goal"
            + (f" ({', '.join(failed)})" if failed else "") + ".")
        if args.json:
            out(f"Results: {Path(args.json)}")
        if args.readme:
            out(f"README block rewritten: {args.readme}")
        out(f"The stack's logs: {log_path}")
    return 0

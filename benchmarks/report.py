"""What `python -m benchmarks` hands on: figures with their goals, the machine they were measured on,
a JSON file for tools and Markdown tables for the README.

A figure is one number with its unit and its goal; `passed` is None where there is no goal (the
figure is recorded, not judged). A section is a titled Markdown table plus the figures it holds, so
the README and the JSON file come from the same values.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Figure:
    """One measured number, with the goal it is held to (`goal` in words, `passed` the verdict)."""

    name: str
    value: float | int | None
    unit: str
    goal: str = "recorded"
    passed: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "unit": self.unit, "goal": self.goal,
                "pass": self.passed, "details": self.details}


@dataclass
class Section:
    """A benchmark's result: its README table (Markdown lines) and the figures behind it."""

    name: str
    title: str
    lines: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    note: str = ""

    def markdown(self) -> list[str]:
        text = [f"**{self.title}**", ""]
        if self.note:
            text += [self.note, ""]
        return text + self.lines + [""]


def verdict(passed: bool | None) -> str:
    """The goal column's mark: met, not met, or recorded (no goal)."""
    return {True: "met", False: "**not met**", None: "recorded"}[passed]


def table(header: list[str], rows: list[list[Any]], align: list[str] | None = None) -> list[str]:
    """A Markdown table; `align` holds "l" or "r" per column (numbers right)."""
    align = align or ["l"] * len(header)
    rule = ["---:" if a == "r" else "---" for a in align]
    return ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"] + [
        "| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def _git(*args: str) -> str:
    git = shutil.which("git")
    if git is None:
        return ""
    try:
        return subprocess.run([git, *args], cwd=ROOT, capture_output=True, text=True, timeout=10,  # noqa: S603
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def git_state() -> dict[str, Any]:
    """The commit measured and whether the work tree differed from it (then the sha is not enough)."""
    return {"sha": _git("rev-parse", "HEAD") or None,
            "dirty": bool(_git("status", "--porcelain", "--untracked-files=no"))}


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the platform has none): on a shared machine
    the times are only as good as the load beside them."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "python": sys.version.split()[0], "nproc": os.cpu_count(),
            "cpu_model": _cpu_model(), "dynamodb": os.environ.get("HUBNOX_DYNAMODB") or "moto"}


def started_at() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def results_json(command: list[str], date: str, load_before: list[float] | None, sections: list[Section],
                 *, quick: bool) -> dict[str, Any]:
    """The machine-readable record of a run: enough to tell later which code, machine and load made it."""
    return {
        "command": command, "make_target": os.environ.get("HUBNOX_BENCH_TARGET") or None,
        "date": date, "quick": quick, "git": git_state(),
        "machine": {**machine(), "loadavg_before": load_before, "loadavg_after": load_average()},
        "results": [{"section": s.name, **f.as_json()} for s in sections for f in s.figures],
    }


def write_json(path: str | Path, record: dict[str, Any]) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def markdown(record: dict[str, Any], sections: list[Section]) -> str:
    """The README block: how the figures were made, then each section's table."""
    m = record["machine"]
    git = record["git"]
    sha = (git["sha"] or "unknown")[:12] + (" with uncommitted changes" if git["dirty"] else "")
    load = lambda value: "unknown" if value is None else " / ".join(f"{x:.2f}" for x in value)  # noqa: E731
    head = [
        f"Generated by `{' '.join(record['command'])}` on {record['date']} at {sha}"
        + (" (**quick run**: fewer deals and rounds)" if record["quick"] else "") + ".",
        f"Machine: {m['cpu_model'] or 'unknown CPU'}, {m['nproc']} cores, Python {m['python']}; load average "
        f"(1/5/15 min) {load(m['loadavg_before'])} before, {load(m['loadavg_after'])} after; the stack's "
        f"DynamoDB: {'DynamoDB Local' if m.get('dynamodb') == 'local' else 'moto'}. "
        "Figures with a goal say whether they met it; \"recorded\" figures have none.",
        "",
    ]
    return "\n".join(head + [line for s in sections for line in s.markdown()]).rstrip() + "\n"


class MarkersMissing(ValueError):
    """The README has no `<!-- bench:begin -->` ... `<!-- bench:end -->` block to rewrite."""


def rewrite_between_markers(text: str, block: str) -> str:
    """`text` with what lies between the markers replaced by `block` (the markers stay)."""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if len(pattern.findall(text)) != 1:
        raise MarkersMissing(f"expected exactly one {BEGIN} ... {END} block")
    return pattern.sub(lambda _: f"{BEGIN}\n{block.rstrip()}\n{END}", text)


def rewrite_readme(path: str | Path, block: str) -> None:
    target = Path(path)
    target.write_text(rewrite_between_markers(target.read_text(encoding="utf-8"), block), encoding="utf-8")


def tenths(share: float) -> str:
    """A share as a percentage to a tenth, rounded down, so a share just under a goal never prints
    as the goal (0.8998 is 89.9, not 90.0)."""
    return f"{math.floor(share * 1000 + 1e-9) / 10:.1f}"

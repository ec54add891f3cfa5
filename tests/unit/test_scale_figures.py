"""The scale test's own arithmetic: its percentiles and its verdict, so a figure in the README or a
pass in `make test` cannot come from a miscount."""

from __future__ import annotations

from sandbox.scale import Result, percentile


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(100, 0, -1)]

    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([], 0.5) == 0.0


def test_any_missing_duplicated_wrongly_typed_or_rerun_deal_fails_the_run():
    clean = Result(portals=1, deals=3, by_path={"webhook": 1, "both": 1, "poller": 1})
    assert clean.ok
    for name in ("missing", "duplicated", "wrong_type", "runs_not_one"):
        failed = Result(portals=1, deals=3, by_path={}, **{name: ["146/7 (both)"]})
        assert not failed.ok, name

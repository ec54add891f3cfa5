"""The calls benchmark counts a deal's Fortnox calls until its note, and those after it beside them."""

from __future__ import annotations

from benchmarks.calls import report, split_at_note


def call(method: str, path: str, at: float) -> dict[str, object]:
    return {"method": method, "path": path, "at": at, "status": 200}


def test_fortnox_calls_after_the_deals_note_are_counted_apart() -> None:
    hubspot = [call("GET", "/crm/objects/2026-03/deals/1", 1.0),
               call("POST", "/crm/objects/2026-03/notes/search", 2.0),
               call("POST", "/crm/objects/2026-03/notes", 5.0)]
    fortnox = [call("POST", "/3/articles", 3.0), call("POST", "/3/invoices", 4.0),
               call("POST", "/3/prices", 6.0), call("POST", "/3/prices", 6.1)]
    assert split_at_note(hubspot, fortnox) == (2, 2)


def test_without_a_note_every_call_is_on_the_deals_path() -> None:
    assert split_at_note([], [call("GET", "/3/customers", 1.0)]) == (1, 0)


def test_the_table_shows_the_deferred_calls_in_a_column_of_their_own() -> None:
    lines = report({"first deal": {"hubspot": 8, "fortnox": 6, "fortnox_deferred": 1, "rate_limited": 0,
                                   "hubspot_goal": 7, "fortnox_goal": 6}})
    assert "off the deal's path" in lines[0]
    assert lines[2] == "| first deal | 8 (≤ 7) | 6 (≤ 6) | 1 | 0 |"

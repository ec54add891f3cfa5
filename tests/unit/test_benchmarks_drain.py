"""The drain benchmark's verdict: a portal's backlog alone is held to 90 % of Fortnox's limit,
portals side by side to their own budgets; a 429 fails either."""

from __future__ import annotations

from typing import Any

from benchmarks.drain import met, report


def company(share: float, busiest: int, limited: int = 0) -> dict[str, Any]:
    return {"portal": "146000001", "drafts": 66, "deals": 66, "seconds_to_drafts": 44.5, "fortnox_calls": 200,
            "calls_per_deal": 3.0, "calls_per_second": 5 * share, "share_of_limit": share, "busiest_5s": busiest,
            "rate_limited": limited, "hubspot_calls": 458, "binding_limit": "HubSpot", "share_of_binding_limit": 0.93}


def test_a_portal_alone_is_held_to_ninety_percent_and_no_429():
    assert met(company(0.908, 24), alone=True)
    assert not met(company(0.8998, 24), alone=True)
    assert not met(company(0.95, 25, limited=1), alone=True)


def test_portals_side_by_side_are_held_to_their_own_budgets():
    assert met(company(0.884, 24), alone=False)  # its share is recorded, not held to 90 %
    assert not met(company(0.95, 26), alone=False)
    assert not met(company(0.884, 24, limited=2), alone=False)


def test_the_table_says_which_goal_the_share_is_held_to_and_prints_it_to_a_tenth():
    lines: list[str] = []
    result = {"deals": 66, "portals": 3, "trigger": "workflow", "triggered_seconds": 3.0, "seconds_to_drafts": 45.0,
              "hubspot_rate_limited": 0, "load_before": (0.2, 0, 0), "load_after": (0.9, 0, 0), "ok": True,
              "companies": [company(0.8998, 24)]}
    report(result, lines.append)
    assert "(recorded)" in lines[1] and "| 89.9 % |" in lines[3] and lines[-1] == "drain: OK"
    report({**result, "portals": 1, "ok": False}, lines.append)
    assert "(goal >= 90 %)" in lines[6] and lines[-1] == "drain: goal not met"

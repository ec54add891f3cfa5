"""`/_sandbox/latency`: a delay on every API request of a simulator that composes with its faults
(a catch-all "latency" fault would shadow them: only the first matching fault applies)."""

from __future__ import annotations

import httpx
import pytest

import sandbox.common as common
from sandbox.common import SimulatorApp, json_response


class Tiny(SimulatorApp):
    """A simulator with one API route and a fixed clock, enough to see what the control does."""

    def __init__(self) -> None:
        self.now = 100.0
        super().__init__(limit=100, window=10, clock=lambda: self.now)
        self.add("/api/thing", ("GET",), self._thing)

    def _thing(self, request: object) -> object:
        self.now += 2.0  # the handler's own time
        return json_response({"ok": True})


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(common.time, "sleep", slept.append)
    return slept


@pytest.fixture
def sim() -> Tiny:
    return Tiny()


def client(sim: Tiny) -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(app=sim), base_url="http://sim")


def test_latency_delays_every_api_request_but_not_the_controls(sim: Tiny, sleeps: list[float]) -> None:
    http = client(sim)
    assert http.get("/_sandbox/latency").json() == {"seconds": 0.0}
    assert http.put("/_sandbox/latency", json={"seconds": 0.3}).json() == {"seconds": 0.3}
    assert http.get("/api/thing").status_code == 200
    assert http.get("/api/thing").status_code == 200
    http.get("/_sandbox/requests")
    assert sleeps == [0.3, 0.3]
    http.put("/_sandbox/latency", json={"seconds": 0})
    http.get("/api/thing")
    assert sleeps == [0.3, 0.3]


def test_latency_composes_with_a_status_fault(sim: Tiny, sleeps: list[float]) -> None:
    http = client(sim)
    http.put("/_sandbox/latency", json={"seconds": 0.3})
    http.post("/_sandbox/faults", json={"kind": "status", "status": 503, "path": "/api/.*"})
    assert http.get("/api/thing").status_code == 503
    assert http.get("/api/thing").status_code == 200
    assert sleeps == [0.3, 0.3]


@pytest.mark.parametrize("body", [{}, {"seconds": "0.3"}, {"seconds": -1}, {"seconds": 61}, {"seconds": True}, [1]])
def test_latency_refuses_what_is_not_a_delay(sim: Tiny, body: object) -> None:
    answer = client(sim).put("/_sandbox/latency", json=body)
    assert answer.status_code == 400
    assert "seconds" in answer.json()["message"]
    assert sim.latency == 0.0


def test_the_request_log_tells_arrival_and_answer_times(sim: Tiny) -> None:
    http = client(sim)
    http.get("/api/thing")
    [entry] = http.get("/_sandbox/requests").json()["requests"]
    assert entry["at"] == 100.0 and entry["done_at"] == 102.0 and entry["status"] == 200

"""A clock tests move by hand: epoch seconds that change only when a test or an injected sleep says."""

from __future__ import annotations


class FakeClock:
    """Epoch seconds that move only when a test (or the injected `sleep`) moves them."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

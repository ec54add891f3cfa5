"""A clock tests move by hand: epoch seconds that change only when a test or an injected sleep says."""

from __future__ import annotations


class FakeClock:
    """Epoch seconds that move only when a test (or the injected `sleep`) moves them: the one fake
    clock of the tests, for stores, services, signers and whole functions alike."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    @property
    def ms(self) -> int:
        """The time in epoch milliseconds, as HubSpot stamps its signatures."""
        return int(self.now * 1000)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

"""The time budget: remote calls in threads, waited for until one shared deadline."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from typing import Any

from hubnox.errors import HubnoxError
from hubnox.observability import logger

REMOTE_BUDGET_SECONDS = 8.0
REMOTE_WORKERS = 4


@dataclass
class Outcome:
    """What a budgeted call came to: its value, the error it raised, or late (no answer in time)."""

    value: Any = None
    error: HubnoxError | None = None
    late: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.late


@dataclass
class RemoteCalls:
    """Runs remote calls in threads and waits for them until one shared deadline."""

    deadline: float
    monotonic: Callable[[], float]
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(
        max_workers=REMOTE_WORKERS, thread_name_prefix="hubnox-card"))

    def run(self, calls: Mapping[str, Callable[[], Any]]) -> dict[str, Outcome]:
        """Start every call, wait until all answered or the deadline passed, and say how each went."""
        futures: dict[str, Future[Any]] = {name: self._pool.submit(call) for name, call in calls.items()}
        wait_for(futures.values(), timeout=max(0.0, self.deadline - self.monotonic()))
        return {name: _outcome(future) for name, future in futures.items()}

    def close(self) -> None:
        # Late calls are abandoned, not awaited: each ends by its own HTTP timeout.
        self._pool.shutdown(wait=False, cancel_futures=True)


def _outcome(future: Future[Any]) -> Outcome:
    if not future.done():
        future.cancel()
        return Outcome(late=True)
    error = future.exception()
    if error is None:
        return Outcome(value=future.result())
    if isinstance(error, HubnoxError):
        return Outcome(error=error)
    logger.exception("card call failed", exc_info=error)
    return Outcome(error=HubnoxError("Something went wrong inside hubnox; it has been logged.", code="INTERNAL"))

"""Waiting for something shared to come free, or giving up in time: one loop for every such wait.

Rate budgets wait for a slot, leases for their holder to let go. Each tries, and when the try fails
learns how long until it is worth trying again; it sleeps that long (or a fixed poll) while the
next try still comes before its deadline, and otherwise raises its own `TransientError`, carrying
the wait as `retry_after`, so the job goes back to the queue instead of outliving its Lambda.
"""

from __future__ import annotations

from collections.abc import Callable

from hubnox.errors import TransientError

Clock = Callable[[], float]
Sleep = Callable[[float], None]


def wait_until_done(
    attempt: Callable[[], float | None],
    *,
    max_wait: float,
    clock: Clock,
    sleep: Sleep,
    busy: Callable[[float], TransientError],
    poll: float | None = None,
) -> None:
    """Call `attempt` until it answers None (done); between tries sleep what it answered (the
    seconds until it may succeed), or `poll` when given.

    Raises `busy(retry_after)` instead of sleeping past `max_wait` seconds from now; with `poll`,
    `retry_after` is at least `poll`.
    """
    deadline = clock() + max_wait
    while (retry_after := attempt()) is not None:
        pause = retry_after if poll is None else poll
        if clock() + pause > deadline:
            raise busy(retry_after if poll is None else max(retry_after, poll))
        sleep(pause)

"""The jobs queue as the runner sees it (`hubnox.sync.ports.FollowUps`): every job sent is kept."""

from __future__ import annotations

from dataclasses import dataclass, field

from hubnox.jobs import Job


@dataclass
class FollowUpQueue:
    """Keeps the follow-ups sent, with their delays, for a test to run or inspect."""

    sent: list[tuple[Job, int]] = field(default_factory=list)

    def send(self, job: Job, *, delay_seconds: int = 0) -> None:
        self.sent.append((job, delay_seconds))

"""The SQS poll queue: one message per portal to poll (`hubnox.sync.poll_fanout`), and one per portal
whose Fortnox changes to bring back (`hubnox.sync.status_fanout`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from hubnox.observability import logger
from hubnox.sync.poll_fanout import SEND_BATCH


class QueueMessage(Protocol):
    """A message of the poll queue: a `PollMessage` or a `StatusMessage`."""

    def to_body(self) -> str: ...


class PollQueue:
    """Sends poll and status messages to the SQS poll queue, ten a request."""

    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._sqs = sqs_client
        self._url = queue_url

    def send(self, message: QueueMessage) -> None:
        self._sqs.send_message(QueueUrl=self._url, MessageBody=message.to_body())

    def send_batch(self, messages: Sequence[QueueMessage]) -> None:
        """Send up to ten messages; the entries SQS refused are sent once more, then it raises."""
        if len(messages) > SEND_BATCH:
            raise ValueError(f"SendMessageBatch takes at most {SEND_BATCH} messages")
        entries = [{"Id": str(index), "MessageBody": message.to_body()} for index, message in enumerate(messages)]
        for attempt in (1, 2):
            failed = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries).get("Failed") or []
            if not failed:
                return
            refused = {item["Id"] for item in failed}
            entries = [entry for entry in entries if entry["Id"] in refused]
            logger.warning("SQS refused poll messages", extra={"count": len(entries), "attempt": attempt,
                                                              "codes": sorted({f.get("Code", "") for f in failed})})
        raise RuntimeError(f"could not send {len(entries)} poll messages")

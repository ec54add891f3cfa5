"""The jobs' dead-letter queue (JobsDLQ in template.yaml), read without taking anything off it.

SQS has no "look": a message is read by receiving it, which hides it. `peek` receives with a short
visibility timeout, keeps receiving while new messages come (the received ones stay hidden, so each
receive brings others), de-duplicates by message id, and makes every one visible again at once.
`take` hides the one message wanted for longer (a retry works on it), and gives the others back.
The settings function's role allows exactly these calls on JobsDLQ: ReceiveMessage,
ChangeMessageVisibility, DeleteMessage, GetQueueAttributes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

#: how long a peek hides the messages it reads, in case it dies before giving them back
PEEK_HIDE_SECONDS = 10
#: how long a retry keeps its message to itself, longer than the settings function's timeout
TAKE_HIDE_SECONDS = 60
#: SQS's most messages per receive
RECEIVE_MAX = 10
#: receives that bring nothing new before a read stops (short polls sample the queue's servers)
EMPTY_RECEIVES = 2


@dataclass(frozen=True)
class DeadLetter:
    """One message of the dead-letter queue, as received."""

    message_id: str
    body: str
    receipt_handle: str
    #: epoch seconds the job was first sent to the jobs queue
    sent_at: float | None = None


class DeadLetterQueue:
    """Reads, takes and deletes the messages of the dead-letter queue at `queue_url`."""

    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._sqs = sqs_client
        self._url = queue_url

    def depth(self) -> int:
        """About how many messages wait on the queue (SQS's ApproximateNumberOfMessages)."""
        answer = self._sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(answer.get("Attributes", {}).get("ApproximateNumberOfMessages", 0))

    def peek(self, limit: int) -> list[DeadLetter]:
        """Up to `limit` messages, each once, all visible again when this returns."""
        seen = self._receive(limit, PEEK_HIDE_SECONDS, lambda letter: False)[1]
        for letter in seen:
            self.release(letter)
        return seen

    def take(self, wanted: Callable[[DeadLetter], bool], scan_limit: int) -> DeadLetter | None:
        """The first message `wanted` accepts among up to `scan_limit`, hidden for `TAKE_HIDE_SECONDS`
        (None when none is there, or another reader holds it); every other message is given back."""
        found, seen = self._receive(scan_limit, TAKE_HIDE_SECONDS, wanted)
        for letter in seen:
            if letter is not found:
                self.release(letter)
        return found

    def delete(self, letter: DeadLetter) -> None:
        self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=letter.receipt_handle)

    def release(self, letter: DeadLetter) -> None:
        """Make a received message visible again (a message deleted meanwhile is left alone)."""
        with contextlib.suppress(ClientError):
            self._sqs.change_message_visibility(QueueUrl=self._url, ReceiptHandle=letter.receipt_handle,
                                                VisibilityTimeout=0)

    def _receive(self, limit: int, hide_seconds: int,
                 wanted: Callable[[DeadLetter], bool]) -> tuple[DeadLetter | None, list[DeadLetter]]:
        seen: dict[str, DeadLetter] = {}
        empty = 0
        while len(seen) < limit and empty < EMPTY_RECEIVES:
            messages = self._sqs.receive_message(
                QueueUrl=self._url, MaxNumberOfMessages=min(RECEIVE_MAX, limit - len(seen)),
                VisibilityTimeout=hide_seconds, WaitTimeSeconds=0, MessageSystemAttributeNames=["SentTimestamp"],
            ).get("Messages", [])
            fresh = [m["MessageId"] for m in messages if m["MessageId"] not in seen]
            empty = 0 if fresh else empty + 1
            for message in messages:  # a message received again: its newest receipt is the one that counts
                seen[message["MessageId"]] = DeadLetter(message["MessageId"], message.get("Body", ""),
                                                        message["ReceiptHandle"], _sent_at(message))
            for message_id in fresh:
                if wanted(seen[message_id]):
                    return seen[message_id], list(seen.values())
        return None, list(seen.values())


def _sent_at(message: dict[str, Any]) -> float | None:
    raw = message.get("Attributes", {}).get("SentTimestamp")
    try:
        return int(raw) / 1000 if raw is not None else None
    except ValueError:
        return None

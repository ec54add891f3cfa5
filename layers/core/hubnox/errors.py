"""Domain errors, in three kinds that decide what happens next.

- `UserFixableError`: the admin or the rep can fix it (missing company, unknown article, Fortnox
  validation). Explained in plain words, never retried.
- `TransientError`: try again later (429, 5xx, timeouts). The queue retries with backoff.
- anything else is a bug: logged with its trace, reported as an internal error.
"""

from __future__ import annotations


class HubnoxError(Exception):
    """Base of every error hubnox raises on purpose."""

    #: a short machine-readable code, used in notes, workflow outputs and the card
    code: str = "ERROR"

    def __init__(self, message: str, *, code: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        #: what the user can do about it, in plain words
        self.hint = hint


class UserFixableError(HubnoxError):
    """Something the user must fix; retrying will not help."""

    code = "USER_FIXABLE"


class TransientError(HubnoxError):
    """A passing failure (rate limit, server error, timeout); safe to retry later."""

    code = "TRANSIENT"

    def __init__(
        self, message: str, *, code: str | None = None, hint: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, code=code, hint=hint)
        self.retry_after = retry_after


class JobExhausted(HubnoxError):
    """A job failed on its last try: its run is failed and reported, and the queue keeps its
    message, which goes on to the dead-letter queue for inspection and redrive."""

    code = "EXHAUSTED"

    def __init__(self, message: str, *, repeat: bool = False) -> None:
        super().__init__(message)
        #: True when the run gave up on an earlier delivery (this is the queue's spare one): count it once
        self.repeat = repeat


class HubSpotUninstalledError(UserFixableError):
    """hubnox was uninstalled from the job's HubSpot portal: the job stops without calling HubSpot or
    Fortnox, and nothing is retried."""

    code = "HUBSPOT_UNINSTALLED"

    def __init__(self, portal_id: str) -> None:
        super().__init__(
            f"hubnox was uninstalled from this HubSpot portal ({portal_id}), so this job stopped without "
            "calling HubSpot or Fortnox.",
            hint="Install hubnox again from HubSpot (its settings, runs and Fortnox connection are kept for "
                 "the retention period), then replay the run.",
        )


class ConnectionBrokenError(UserFixableError):
    """A stored connection no longer works (revoked, expired, uninstalled): reconnect it."""

    code = "RECONNECT"

    def __init__(self, system: str, message: str | None = None) -> None:
        super().__init__(
            message or f"The {system} connection no longer works.",
            hint=f"Reconnect {system} from the hubnox settings page.",
        )
        self.system = system


class NotFoundError(UserFixableError):
    """A record that the request names does not exist."""

    code = "NOT_FOUND"


class BadRequestError(UserFixableError):
    """A request hubnox cannot act on: malformed body, missing fields, bad parameters."""

    code = "BAD_REQUEST"


class UnauthorizedError(HubnoxError):
    """A request whose signature, session or link does not check out."""

    code = "UNAUTHORIZED"

"""HubSpot's refusals that callers tell apart from other errors."""

from __future__ import annotations

from collections.abc import Sequence

from hubnox.errors import ConnectionBrokenError

SYSTEM = "HubSpot"


class MissingScopesError(ConnectionBrokenError):
    """HubSpot's 403 MISSING_SCOPES: the installation was not granted a scope the call needs.

    `scopes` lists the scopes HubSpot named (any one of them would do). For hubnox's optional
    scopes (`hubnox.services.install.HUBSPOT_OPTIONAL_SCOPES`) callers fall back instead of failing.
    """

    def __init__(self, message: str, scopes: Sequence[str] = ()) -> None:
        super().__init__(SYSTEM, message)
        self.scopes = tuple(scopes)

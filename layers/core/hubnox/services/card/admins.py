"""Who may open hubnox's settings from the card: the user who installed hubnox, or a super admin of
the portal as HubSpot's users API says, asked at most every few minutes per portal and user."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from cachetools import TTLCache

from hubnox.errors import HubnoxError, NotFoundError
from hubnox.hubspot.errors import MissingScopesError
from hubnox.hubspot.models import HubSpotUser
from hubnox.observability import logger

SUPER_ADMIN_TTL_SECONDS = 5 * 60.0
SUPER_ADMIN_MAX_ENTRIES = 1000


class UserReader(Protocol):
    """What the check reads from HubSpot (`HubSpotClient`)."""

    def user(self, user_id: str) -> HubSpotUser: ...


class SuperAdmins:
    """`is_super_admin(portal, user)`: HubSpot's answer, kept for `ttl` seconds in this container.

    A portal that did not grant `settings.users.read`, or a user HubSpot does not know, is "no" (and
    kept); a failure to ask (HubSpot down, connection broken) is "no" for this answer only. The card
    only decides whether to hand out a sign-in link: the sign-in asks HubSpot again, uncached.
    """

    def __init__(self, users: Callable[[str], UserReader], *, clock: Callable[[], float] = time.monotonic,
                 ttl: float = SUPER_ADMIN_TTL_SECONDS, max_entries: int = SUPER_ADMIN_MAX_ENTRIES) -> None:
        self._users = users
        self._answers: TTLCache[tuple[str, str], bool] = TTLCache(max_entries, ttl, clock)
        self._lock = threading.Lock()  # cachetools' caches are not thread-safe on their own

    def is_super_admin(self, portal_id: str, user_id: str) -> bool:
        key = (portal_id, user_id)
        with self._lock:
            known = self._answers.get(key)
        if known is not None:
            return known
        try:
            answer = self._users(portal_id).user(user_id).super_admin
        except (MissingScopesError, NotFoundError):
            answer = False
        except HubnoxError as failure:
            logger.warning("super admin check failed", extra={"portal_id": portal_id, "code": failure.code})
            return False
        with self._lock:
            self._answers[key] = answer
        return answer

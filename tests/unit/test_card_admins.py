"""Who gets the card's way into the settings besides the installer: super admins, as HubSpot's users
API says, asked once per portal and user every five minutes in a container."""

from __future__ import annotations

from hubnox.errors import TransientError
from hubnox.hubspot.errors import MissingScopesError
from hubnox.hubspot.models import HubSpotUser
from hubnox.services.card.admins import SUPER_ADMIN_TTL_SECONDS, SuperAdmins
from tests.support.clock import FakeClock


class Users:
    def __init__(self, answers: dict[str, HubSpotUser | Exception]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, str]] = []
        self.portal = ""

    def user(self, user_id: str) -> HubSpotUser:
        self.asked.append((self.portal, user_id))
        answer = self.answers[user_id]
        if isinstance(answer, Exception):
            raise answer
        return answer


def admins(users: Users, clock: FakeClock) -> SuperAdmins:
    def reader(portal_id: str) -> Users:
        users.portal = portal_id
        return users
    return SuperAdmins(reader, clock=clock)


def test_hubspots_answer_is_kept_five_minutes_per_portal_and_user():
    clock = FakeClock(1000.0)
    users = Users({"1": HubSpotUser(id="1", superAdmin=True), "2": HubSpotUser(id="2", superAdmin=False)})
    check = admins(users, clock)

    assert check.is_super_admin("p1", "1") and not check.is_super_admin("p1", "2")
    assert check.is_super_admin("p1", "1") and check.is_super_admin("p2", "1")
    assert users.asked == [("p1", "1"), ("p1", "2"), ("p2", "1")]

    users.answers["1"] = HubSpotUser(id="1", superAdmin=False)  # demoted
    clock.advance(SUPER_ADMIN_TTL_SECONDS + 1)
    assert not check.is_super_admin("p1", "1")


def test_no_scope_means_no_and_a_failure_to_ask_is_not_remembered():
    clock = FakeClock(1000.0)
    users = Users({"1": MissingScopesError("missing", ("settings.users.read",)),
                   "2": TransientError("HubSpot is down")})
    check = admins(users, clock)

    assert not check.is_super_admin("p", "1") and not check.is_super_admin("p", "1")
    assert not check.is_super_admin("p", "2") and not check.is_super_admin("p", "2")
    assert users.asked == [("p", "1"), ("p", "2"), ("p", "2")]

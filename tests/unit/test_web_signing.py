"""Signed tokens and the settings session: what hubnox hands out is genuine, bound and expiring."""

import pytest

from hubnox.errors import UnauthorizedError
from hubnox.signing import Signer
from hubnox.web.session import (
    SESSION_COOKIE,
    check_csrf,
    claim_login,
    cookie_value,
    login_link,
    read_session,
    start_session,
)
from tests.support.clock import FakeClock
from tests.support.fakes import Nonces, Sessions

KEY = "k" * 32


def test_a_token_round_trips_its_payload():
    signer = Signer(KEY, clock=FakeClock())
    claims = signer.verify("replay", signer.sign("replay", {"run": "r1", "portal": "42"}, 60))
    assert claims["run"] == "r1" and claims["portal"] == "42"


def test_a_token_for_one_purpose_is_refused_for_another():
    signer = Signer(KEY, clock=FakeClock())
    token = signer.sign("replay", {"run": "r1"}, 60)
    with pytest.raises(UnauthorizedError) as err:
        signer.verify("session", token)
    assert err.value.code == "BAD_SIGNATURE"


def test_a_tampered_or_foreign_token_is_refused():
    clock = FakeClock()
    token = Signer(KEY, clock=clock).sign("login", {"portal": "42"}, 60)
    body, mac = token.split(".")
    forged_body = Signer(KEY, clock=clock).sign("login", {"portal": "43"}, 60).split(".")[0]
    for bad in (f"{forged_body}.{mac}", f"{body}.{mac[:-2]}xx", "garbage", ""):
        with pytest.raises(UnauthorizedError):
            Signer(KEY, clock=clock).verify("login", bad)
    with pytest.raises(UnauthorizedError):
        Signer("another-key-of-32-bytes-long-xyz", clock=clock).verify("login", token)


def test_an_expired_token_is_refused():
    clock = FakeClock()
    signer = Signer(KEY, clock=clock)
    token = signer.sign("login", {"portal": "42"}, 60)
    clock.now += 61
    with pytest.raises(UnauthorizedError) as err:
        signer.verify("login", token)
    assert err.value.code == "EXPIRED"


def test_a_short_key_is_refused():
    with pytest.raises(ValueError):
        Signer("short")


def test_a_login_link_names_its_user_and_works_once():
    clock = FakeClock()
    signer, nonces = Signer(KEY, clock=clock), Nonces(clock)
    link = login_link(signer, "https://hubnox.example.com", "42", "admin@example.com", "7001")
    token = link.split("login=")[1]
    login = claim_login(signer, nonces, token)
    assert (login.portal_id, login.user, login.user_id) == ("42", "admin@example.com", "7001")
    with pytest.raises(UnauthorizedError) as err:
        claim_login(signer, nonces, token)
    assert err.value.code == "LINK_USED"


def test_a_session_cookie_is_bound_to_its_portal_and_ends_with_its_generation_or_a_logout():
    signer, sessions = Signer(KEY, clock=FakeClock()), Sessions()
    session, cookie = start_session(signer, sessions, "42", "admin@example.com")
    assert session.portal_id == "42" and session.user == "admin@example.com"
    rendered = str(cookie)
    for attribute in ("HttpOnly", "Secure", "SameSite=None", "Partitioned", "Path=/"):
        assert attribute in rendered
    cookies = [rendered.split(";")[0]]
    assert read_session(signer, sessions, cookies).session_id == session.session_id
    sessions.generations["42"] = 1  # the portal's data deleted, or hubnox installed again
    with pytest.raises(UnauthorizedError) as err:
        read_session(signer, sessions, cookies)
    assert err.value.code == "SESSION_ENDED"
    later, later_cookie = start_session(signer, sessions, "42", "admin@example.com")
    assert read_session(signer, sessions, [str(later_cookie).split(";")[0]]).generation == 1
    sessions.ended_ids.add(later.session_id)  # logged out
    with pytest.raises(UnauthorizedError):
        read_session(signer, sessions, [str(later_cookie).split(";")[0]])


def test_a_session_token_from_before_generations_is_refused():
    signer = Signer(KEY, clock=FakeClock())
    old = signer.sign("session", {"portal": "42", "user": "u", "csrf": "c"}, 60)
    with pytest.raises(UnauthorizedError):
        read_session(signer, Sessions(), [f"{SESSION_COOKIE}={old}"])


def test_no_cookie_means_no_session():
    with pytest.raises(UnauthorizedError) as err:
        read_session(Signer(KEY), Sessions(), ["other=1"])
    assert err.value.code == "NO_SESSION"
    assert cookie_value(["a=1; b=2", f"{SESSION_COOKIE}=tok"]) == "tok"


def test_state_changes_need_the_csrf_secret_and_our_origin():
    signer = Signer(KEY, clock=FakeClock())
    session, _ = start_session(signer, Sessions(), "42", "u")
    base = "https://hubnox.example.com"
    check_csrf(session, {"X-CSRF-Token": session.csrf, "Origin": base}, None, base)
    check_csrf(session, {}, {"csrf_token": session.csrf}, base)
    with pytest.raises(UnauthorizedError):
        check_csrf(session, {"X-CSRF-Token": "wrong"}, None, base)
    with pytest.raises(UnauthorizedError):
        check_csrf(session, {}, None, base)
    with pytest.raises(UnauthorizedError) as err:
        check_csrf(session, {"X-CSRF-Token": session.csrf, "Origin": "https://evil.example"}, None, base)
    assert err.value.code == "BAD_ORIGIN"
    with pytest.raises(UnauthorizedError):
        check_csrf(session, {"X-CSRF-Token": session.csrf, "Sec-Fetch-Site": "cross-site"}, None, base)


def test_a_replay_link_names_its_run_and_portal_and_nothing_else():
    from urllib.parse import parse_qs, urlsplit

    from hubnox.links import replay_url, verify_replay

    clock = FakeClock()
    signer = Signer(KEY, clock=clock)
    url = replay_url(signer, "https://hubnox.example.com/", "42", "01RUN")
    parts = urlsplit(url)
    assert parts.path == "/replay/01RUN"
    token = parse_qs(parts.query)["t"][0]
    assert verify_replay(signer, token, "01RUN") == "42"
    with pytest.raises(UnauthorizedError):
        verify_replay(signer, token, "01OTHER")
    clock.now += 31 * 24 * 3600
    with pytest.raises(UnauthorizedError):
        verify_replay(signer, token, "01RUN")


def test_a_forged_token_or_csrf_value_with_any_characters_is_refused_not_a_crash():
    # compare_digest refuses non-ASCII str; hubnox compares bytes, so a forgery is a 401, never a 500.
    signer = Signer(KEY, clock=FakeClock())
    token = signer.sign("replay", {"run": "r1"}, 60)
    for forged in (token[:-1] + "é", "é.é", token.split(".")[0] + ".😀"):
        with pytest.raises(UnauthorizedError):
            signer.verify("replay", forged)
    session, _ = start_session(signer, Sessions(), "42", "u")
    with pytest.raises(UnauthorizedError):
        check_csrf(session, {"X-CSRF-Token": "é" * 10}, None, "https://hubnox.example.com")

"""Settings sessions end when they should: a logout ends the browser's own session, deleting the
portal's data or installing hubnox again ends every session of the portal, and a settings page
left open can never bring a deleted portal back. Connect Fortnox needs the session's CSRF token.

The settings and oauth functions run on a moto-backed container, as Lambda would run them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from hubnox.web.session import SESSION_COOKIE, start_session
from tests.support.functions import SAMPLE_PORTAL, World, http_event, world_on_moto


@pytest.fixture
def world(aws_clients):
    with world_on_moto(aws_clients) as world:
        world.install()
        yield world


def signed_in(world: World, portal: str = SAMPLE_PORTAL) -> tuple[str, str]:
    """A fresh session of the portal: its cookie (as the browser sends it) and its CSRF token."""
    session, cookie = start_session(world.container.signer, world.container.sessions, portal, "admin@acme.example")
    return f"{SESSION_COOKIE}={cookie.value}", session.csrf


def api(world: World, method: str, path: str, cookie: str, *, csrf: str = "", body: Any = None
        ) -> tuple[int, dict[str, Any], list[str]]:
    """One settings API request as the page sends it: status, JSON body and the cookies it sets."""
    event = http_event("settings_api_put.json", headers={"x-csrf-token": csrf} if csrf else {},
                       body=json.dumps(body) if body is not None else "")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["pathParameters"] = {"proxy": path.removeprefix("/settings/api/")}
    event["cookies"] = [cookie]
    if not csrf:
        event["headers"].pop("x-csrf-token", None)
    answer = world.invoke("settings", event)
    return answer["statusCode"], json.loads(answer["body"] or "{}"), answer.get("cookies", [])


def page(world: World, cookie: str, path: str = "/settings", query: str = "") -> dict[str, Any]:
    function = "oauth" if path.startswith("/oauth/") else "settings"
    event = http_event("settings_page.json", raw_query=query)
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["cookies"] = [cookie] if cookie else []
    return world.invoke(function, event)


def test_log_out_ends_this_browsers_session_and_no_other(world):
    mine, csrf = signed_in(world)
    colleagues, _ = signed_in(world)
    assert api(world, "POST", "/settings/api/logout", mine)[0] == 401  # without its CSRF token
    status, body, cookies = api(world, "POST", "/settings/api/logout", mine, csrf=csrf)
    assert status == 200 and "signed out" in body["message"]
    assert any(c.startswith(f"{SESSION_COOKIE}=;") and "Max-Age=0" in c for c in cookies)
    assert api(world, "GET", "/settings/api/settings", mine)[0] == 401
    assert page(world, mine)["statusCode"] == 401
    assert api(world, "GET", "/settings/api/settings", colleagues)[0] == 200


def test_deleting_the_portals_data_ends_every_session_of_the_portal(world):
    mine, csrf = signed_in(world)
    colleagues, _ = signed_in(world)
    neighbours, _ = signed_in(world, "777")
    status, _, _ = api(world, "DELETE", "/settings/api/portal", mine, csrf=csrf, body={"confirm": SAMPLE_PORTAL})
    assert status == 200
    for cookie in (mine, colleagues):
        assert api(world, "GET", "/settings/api/settings", cookie)[0] == 401
        assert page(world, cookie)["statusCode"] == 401
    assert api(world, "GET", "/settings/api/settings", neighbours)[0] == 200
    # and no old page can put the portal back
    assert api(world, "PUT", "/settings/api/settings", colleagues, csrf=csrf,
               body={"version": 0, "settings": {}})[0] == 401
    assert world.container.portal_settings.get(SAMPLE_PORTAL) == (None, 0)


def test_a_save_that_races_the_deletion_writes_nothing(world):
    # The session was read just before the data went: the write itself must refuse.
    cookie, csrf = signed_in(world)
    world.container.portal_data.delete_portal(SAMPLE_PORTAL)
    status, body, _ = api(world, "PUT", "/settings/api/settings", cookie, csrf=csrf,
                          body={"version": 0, "settings": {}})
    assert status == 404 and body["code"] == "PORTAL_GONE"
    assert world.container.portal_settings.get(SAMPLE_PORTAL) == (None, 0)


def test_installing_again_ends_the_sessions_from_before(world):
    cookie, _ = signed_in(world)
    world.container.sessions.end_all(SAMPLE_PORTAL)  # what the install's callback does
    assert page(world, cookie)["statusCode"] == 401


def test_connect_fortnox_starts_only_with_the_sessions_csrf_token(world):
    cookie, csrf = signed_in(world)
    assert page(world, cookie, "/oauth/fortnox/connect")["statusCode"] == 401
    assert page(world, cookie, "/oauth/fortnox/connect", f"csrf_token={'x' * 32}")["statusCode"] == 401
    started = page(world, cookie, "/oauth/fortnox/connect", f"csrf_token={csrf}")
    assert started["statusCode"] == 302 and "/oauth-v1/auth" in started["headers"]["Location"]


def test_the_settings_pages_connect_link_carries_the_csrf_token(world):
    cookie, csrf = signed_in(world)
    answer = page(world, cookie)
    assert answer["statusCode"] == 200
    assert f"/oauth/fortnox/connect?csrf_token={csrf}" in answer["body"]
    assert 'id="logout-form"' in answer["body"]


def test_a_login_link_signs_no_one_in_by_itself(world):
    from hubnox.web.session import login_link

    link = login_link(world.container.signer, "https://hubnox.example.com", SAMPLE_PORTAL, "admin", "70000001")
    answer = page(world, "", "/settings", link.split("?", 1)[1])
    assert answer["statusCode"] == 303
    assert not any(c.startswith(f"{SESSION_COOKIE}=") for c in answer.get("cookies", []))
    assert any(c.startswith("hubnox_login=") for c in answer.get("cookies", []))
    assert "/oauth/authorize" in answer["headers"]["Location"]

"""The pages' one way to call the API (`web/static/js/api.js`), in a real browser: a write carries the
page's CSRF token and a JSON body and is never answered from a cache, and a request that never
reaches hubnox is said on the page in words, on the settings page and on the sync log alike."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.test_settings_admins import context_for
from tests.e2e.test_settings_page import SettingsPage, browser  # noqa: F401 (the shared browser fixture)

pytestmark = pytest.mark.e2e

UNREACHABLE = "hubnox could not be reached. Check the connection and try again."


def test_a_save_sends_the_csrf_token_as_json_and_a_lost_connection_is_said(browser, stack, connected_portal):  # noqa: F811
    page = SettingsPage(browser, stack.running.gateway_url, connected_portal.login_cookie)
    try:
        page.open()
        sent: list[Any] = []

        def lose_the_save(route: Any) -> None:
            if route.request.method != "PUT":
                route.continue_()
                return
            sent.append(route.request)
            route.abort("internetdisconnected")

        page.tab.route("**/settings/api/settings", lose_the_save)
        said = page.save()

        assert said == f"Not saved. {UNREACHABLE}"
        [request] = sent
        token = page.tab.locator('meta[name="csrf-token"]').get_attribute("content")
        headers = request.headers
        assert token and headers["x-csrf-token"] == token
        assert headers["content-type"] == "application/json" and headers["accept"] == "application/json"
        assert set(json.loads(request.post_data)) == {"version", "settings"}
        assert page.script_errors == []
    finally:
        page.close()


def test_the_sync_log_says_when_hubnox_cannot_be_reached(browser, stack, connected_portal):  # noqa: F811
    gateway = stack.running.gateway_url
    context = context_for(browser, gateway, connected_portal.login_cookie, 360)
    try:
        tab = context.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.route(lambda url: "/settings/api/runs" in url, lambda route: route.abort("internetdisconnected"))

        tab.goto(f"{gateway}/settings/log")

        status = tab.locator("[data-log-status]")
        status.filter(has_text=UNREACHABLE).wait_for()
        assert status.inner_text() == UNREACHABLE
        assert errors == []
    finally:
        context.close()

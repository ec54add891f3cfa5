"""Sign-ins belong to the browser that asked for them, and sessions end when they should, told
through the local gateway as browsers would live it: an attacker's login link in a victim's
browser, a second portal reaching for a Fortnox company already in use, log out and reinstall."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from sandbox.admin import (
    AdminBrowser,
    connect_url,
    install_and_connect,
    install_hubnox,
    open_login_link,
    page_csrf,
)
from tests.e2e.test_card import fetch_card
from tests.support.workflows import stored_connections

pytestmark = pytest.mark.e2e


def test_an_attackers_login_link_in_a_victims_browser_signs_no_one_in(stack):
    gateway = stack.running.gateway_url
    attacker = AdminBrowser()
    attackers_portal = install_hubnox(attacker, gateway)
    link = fetch_card(stack, attackers_portal, "0-2", "1")["settingsUrl"]  # the card hands the installer a link

    victim = AdminBrowser()
    victims_portal = install_hubnox(victim, gateway)
    victims_session = victim.session_cookie
    page = open_login_link(victim, link, portal_id=victims_portal)  # HubSpot signs in the victim's own user
    assert page.status_code == 401 and "another HubSpot user or portal" in page.text
    assert victim.session_cookie == victims_session  # still signed in to their own portal only

    # Connect Fortnox now connects the victim's own portal, never the attacker's.
    assert victim.get(connect_url(victim, gateway)).status_code == 200
    assert stored_connections(stack).get_fortnox(attackers_portal) is None
    assert stored_connections(stack).get_fortnox(victims_portal) is not None


def test_a_login_link_started_in_one_browser_cannot_finish_in_another(stack):
    gateway = stack.running.gateway_url
    admin = AdminBrowser()
    portal_id = install_hubnox(admin, gateway)
    link = fetch_card(stack, portal_id, "0-2", "1")["settingsUrl"]
    started = admin.request("GET", link, max_redirects=0)
    assert started.status_code == 303 and "hubnox_login=" in started.headers["set-cookie"]
    consent = f"{started.headers['location']}&{urlencode({'sandbox_portal': portal_id})}"

    stranger = AdminBrowser()
    page = stranger.get(consent)
    assert page.status_code == 400 and "another browser" in page.text
    assert stranger.session_cookie is None


def test_a_sign_in_refused_on_hubspots_consent_page_says_so(stack):
    gateway = stack.running.gateway_url
    admin = AdminBrowser()
    portal_id = install_hubnox(admin, gateway)
    link = fetch_card(stack, portal_id, "0-2", "1")["settingsUrl"]
    started = admin.request("GET", link, max_redirects=0)
    page = admin.get(f"{started.headers['location']}&sandbox_deny=1")
    assert page.status_code == 400 and "did not confirm who you are" in page.text


def test_connect_fortnox_needs_the_settings_pages_csrf_token(stack):
    gateway = stack.running.gateway_url
    admin = AdminBrowser()
    install_hubnox(admin, gateway)
    forged = admin.get(f"{gateway}/oauth/fortnox/connect")  # what a link on another site would send
    assert forged.status_code == 401 and "CSRF" in forged.text
    assert admin.request("GET", connect_url(admin, gateway), max_redirects=0).status_code == 302


def test_a_fortnox_company_connected_to_one_portal_is_refused_to_a_second(stack):
    gateway = stack.running.gateway_url
    first = install_and_connect(gateway)
    before = stored_connections(stack).get_fortnox(first.portal_id)

    second = AdminBrowser()
    second_portal = install_hubnox(second, gateway)
    consent = second.request("GET", connect_url(second, gateway), max_redirects=0).headers["location"]
    page = second.get(f"{consent}&{urlencode({'sandbox_tenant': first.tenant_id})}")
    assert page.status_code == 409
    assert f"Disconnect it from portal {first.portal_id}" in page.text
    assert stored_connections(stack).get_fortnox(second_portal) is None
    after = stored_connections(stack).get_fortnox(first.portal_id)
    assert after is not None and after.version == before.version and after.tenant_id == first.tenant_id


def test_log_out_delete_and_reinstall_end_sessions(stack):
    gateway = stack.running.gateway_url
    portal = install_and_connect(gateway)
    old_cookie = {"Cookie": f"hubnox_session={portal.login_cookie}"}

    # Log out: this browser's cookie stops working at once.
    headers = {**old_cookie, "X-CSRF-Token": portal.csrf_token(), "Origin": gateway}
    out = stack.gateway.post("/settings/api/logout", headers=headers)
    assert out.status_code == 200 and "Max-Age=0" in out.headers["set-cookie"]
    assert stack.gateway.get("/settings", headers=old_cookie).status_code == 401

    # Reinstall: every earlier session of the portal ends; the installing browser is signed in.
    colleague = AdminBrowser()
    install_hubnox(colleague, gateway, portal_id=portal.portal_id)
    colleagues = {"Cookie": f"hubnox_session={colleague.session_cookie}"}
    again = AdminBrowser()
    install_hubnox(again, gateway, portal_id=portal.portal_id)
    assert stack.gateway.get("/settings", headers=colleagues).status_code == 401
    mine = {"Cookie": f"hubnox_session={again.session_cookie}"}
    settings_page = stack.gateway.get("/settings", headers=mine)
    assert settings_page.status_code == 200

    # Delete the portal's data: the session ends, and its page cannot save the portal back.
    csrf = {**mine, "X-CSRF-Token": page_csrf(settings_page.text), "Origin": gateway}
    deleted = stack.gateway.request("DELETE", "/settings/api/portal", headers=csrf,
                                    json={"confirm": portal.portal_id})
    assert deleted.status_code == 200
    assert stack.gateway.get("/settings", headers=mine).status_code == 401
    saved = stack.gateway.put("/settings/api/settings", headers=csrf, json={"version": 0, "settings": {}})
    assert saved.status_code == 401
    assert stored_connections(stack).get_hubspot(portal.portal_id) is None

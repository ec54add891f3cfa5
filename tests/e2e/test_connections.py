"""An admin installs hubnox, connects Fortnox, disconnects it and connects another company, all
through the local gateway exactly as a browser would, and nothing secret is ever written in clear."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from hubnox.store.table import Table, portal_partition
from sandbox.admin import (
    AdminBrowser,
    connect_fortnox,
    connect_url,
    install_and_connect,
    install_hubnox,
    page_data,
    seeder_token,
)
from tests.support.workflows import Rep, callback, drain, enroll, stored_connections

pytestmark = pytest.mark.e2e


def test_install_signs_the_admin_in_to_the_settings_page(stack):
    browser = AdminBrowser()
    portal_id = install_hubnox(browser, stack.running.gateway_url)
    page = browser.get(f"{stack.running.gateway_url}/settings")
    assert page.status_code == 200
    assert "Connect Fortnox" in page.text and page_data(page.text, "portal-id") == portal_id
    assert not any("login=" in step for step in browser.history)  # the callback signed this browser in
    hubspot = stored_connections(stack).get_hubspot(portal_id)
    assert hubspot is not None and hubspot.status == "active"


def test_connect_disconnect_and_connect_another_company(stack):
    portal = install_and_connect(stack.running.gateway_url)
    assert portal.tenant_id and portal.company_name
    gateway = stack.running.gateway_url

    second_try = portal.browser.get(connect_url(portal.browser, gateway))
    assert second_try.status_code == 409 and "Disconnect" in second_try.text

    refused = portal.browser.post_form(f"{gateway}/oauth/fortnox/disconnect", {"csrf_token": "forged"})
    assert refused.status_code == 401
    assert stored_connections(stack).get_fortnox(portal.portal_id) is not None

    after = portal.browser.post_form(f"{gateway}/oauth/fortnox/disconnect", {"csrf_token": portal.csrf_token()})
    assert after.status_code == 200 and "Fortnox is disconnected" in after.text
    assert stored_connections(stack).get_fortnox(portal.portal_id) is None

    page = connect_fortnox(portal.browser, gateway)
    assert page_data(page, "fortnox-tenant") not in ("", portal.tenant_id)


def test_a_forged_or_replayed_state_gets_a_clear_400_page(stack):
    browser = AdminBrowser()
    gateway = stack.running.gateway_url
    consent = browser.request("GET", f"{gateway}/oauth/hubspot/install", max_redirects=0)
    authorize = browser.request("GET", consent.headers["location"], max_redirects=0)
    callback = authorize.headers["location"]
    query = parse_qs(urlsplit(callback).query)

    forged = browser.get(callback.replace(query["state"][0], query["state"][0][:-4] + "AAAA"))
    assert forged.status_code == 400 and "not valid" in forged.text

    assert browser.get(callback).status_code == 200  # the genuine answer installs
    replayed = browser.get(callback)
    assert replayed.status_code == 400 and "already used" in replayed.text


def test_a_refused_consent_gets_a_page_that_says_what_happened(stack):
    browser = AdminBrowser()
    consent = browser.request("GET", f"{stack.running.gateway_url}/oauth/hubspot/install", max_redirects=0)
    page = browser.get(consent.headers["location"] + "&sandbox_deny=1")
    assert page.status_code == 400
    assert "Installation cancelled" in page.text and "did not install hubnox" in page.text


def test_the_settings_page_needs_a_session_and_the_install_signs_in_only_its_own_browser(stack):
    gateway = stack.running.gateway_url
    browser = AdminBrowser()
    assert browser.get(f"{gateway}/settings").status_code == 401
    consent = browser.request("GET", f"{gateway}/oauth/hubspot/install", max_redirects=0)
    authorize = browser.request("GET", consent.headers["location"], max_redirects=0)
    finished = authorize.headers["location"]
    stranger = AdminBrowser()
    refused = stranger.get(finished)  # the finished install link, sent to someone else
    assert refused.status_code == 400 and "another browser" in refused.text
    assert stranger.session_cookie is None


def test_connecting_without_a_session_is_refused(stack):
    page = AdminBrowser().get(f"{stack.running.gateway_url}/oauth/fortnox/connect")
    assert page.status_code == 401


def stored_tokens(stack, portal_id: str) -> tuple[list[str], str]:
    """The portal's four tokens in clear (as hubnox uses them), and how the connections show themselves."""
    store = stored_connections(stack)
    hubspot, fortnox = store.get_hubspot(portal_id), store.get_fortnox(portal_id)
    tokens = [hubspot.access_token, hubspot.refresh_token, fortnox.access_token, fortnox.refresh_token]
    shown = repr(hubspot) + repr(fortnox) + str(hubspot) + str(fortnox)
    return [token.get_secret_value() for token in tokens if token.get_secret_value()], shown


def test_no_token_is_ever_in_the_table_or_the_logs_in_clear_text(stack, capfd):
    portal = install_and_connect(stack.running.gateway_url)
    first, shown = stored_tokens(stack, portal.portal_id)
    assert len(first) == 4
    # Both services expire their tokens; the next deal makes hubnox refresh both.
    stack.hubspot.post("/_sandbox/tokens/expire", json={})
    stack.fortnox.post("/_sandbox/tokens/expire", json={})
    rep = Rep(stack, portal.portal_id, seeder_token(stack.running.hubspot_api_url, portal.portal_id))
    delivery = enroll(stack, portal.portal_id, rep.deal())
    drain(stack)
    assert callback(stack, delivery["callbackId"])["executionState"] == "SUCCESS"
    second, shown_after = stored_tokens(stack, portal.portal_id)
    assert set(second) != set(first)  # refreshed
    logs = capfd.readouterr()

    raw = repr(stack.aws("dynamodb").scan(TableName=stack.environment["TABLE_NAME"])["Items"])
    for secret in {*first, *second}:
        assert secret not in raw
        assert secret not in logs.out and secret not in logs.err
        assert secret[:12] not in shown + shown_after


def test_a_finished_install_link_sent_to_someone_else_signs_nobody_in(stack):
    attacker, victim = AdminBrowser(), AdminBrowser()
    gateway = stack.running.gateway_url
    consent = attacker.request("GET", f"{gateway}/oauth/hubspot/install", max_redirects=0)
    assert "hubnox_install=" in consent.headers["set-cookie"] and "HttpOnly" in consent.headers["set-cookie"]
    callback = attacker.request("GET", consent.headers["location"], max_redirects=0).headers["location"]

    page = victim.get(callback)
    assert page.status_code == 400 and "another browser" in page.text
    assert victim.session_cookie is None


def test_an_admin_deletes_everything_hubnox_keeps_for_the_portal(stack):
    portal = install_and_connect(stack.running.gateway_url)
    gateway = stack.running.gateway_url
    headers = {"Cookie": f"hubnox_session={portal.login_cookie}", "X-CSRF-Token": portal.csrf_token(),
               "Origin": gateway, "Content-Type": "application/json"}

    refused = stack.gateway.request("DELETE", "/settings/api/portal", headers=headers, json={"confirm": "nope"})
    assert refused.status_code == 400 and portal.portal_id in refused.json()["message"]
    unsafe = stack.gateway.request("DELETE", "/settings/api/portal", json={"confirm": portal.portal_id},
                                   headers={**headers, "X-CSRF-Token": "forged"})
    assert unsafe.status_code == 401

    deleted = stack.gateway.request("DELETE", "/settings/api/portal", headers=headers,
                                    json={"confirm": portal.portal_id})
    assert deleted.status_code == 200 and deleted.json()["deleted"] >= 1  # the Fortnox item went with the revoke
    assert "Max-Age=0" in deleted.headers["set-cookie"]
    table = Table(stack.aws("dynamodb"), stack.environment["TABLE_NAME"])
    assert table.query(portal_partition(portal.portal_id), consistent=True) == []
    revokes = [r for r in stack.fortnox.get("/_sandbox/requests").json()["requests"] if r["path"] == "/oauth-v1/revoke"]
    assert revokes
    assert stored_connections(stack).get_hubspot(portal.portal_id) is None

"""Connection health and settings checked against Fortnox, end to end: a Fortnox company without the
order licence (or a consent without the order scope) connected through the gateway's OAuth routes,
the settings page and the app card saying so, and a save naming what Fortnox lacks refused."""

from __future__ import annotations

import html
from typing import Any

import pytest

from sandbox.admin import AdminBrowser, connect_fortnox, install_hubnox, page_csrf, seeder_token
from tests.e2e.test_card import fetch_card

pytestmark = pytest.mark.e2e


def connect_company(stack, **company: Any) -> tuple[AdminBrowser, str, str]:
    """A fresh portal connected to a fresh Fortnox company made with `company`; the browser, portal and page."""
    tenant = stack.fortnox.post("/_sandbox/companies", json={"CompanyName": "Utan Order AB", **company})
    assert tenant.status_code == 201, tenant.text
    browser = AdminBrowser()
    portal_id = install_hubnox(browser, stack.running.gateway_url)
    page = connect_fortnox(browser, stack.running.gateway_url, tenant_id=str(tenant.json()["tenantId"]))
    return browser, portal_id, page


def test_without_the_order_licence_the_page_says_orders_will_not_work_and_what_to_do(stack):
    browser, _, landed = connect_company(stack, licences=["kundfaktura", "bokforing"])
    try:
        page = html.unescape(browser.get(f"{stack.running.gateway_url}/settings").text)
    finally:
        browser.close()

    for shown in (html.unescape(landed), page):
        assert "connected, but some features will not work" in shown
        assert 'data-feature="order" data-state="no_licence"' in shown
        assert "Orders will not work: the Fortnox company has no licence for draft orders" in shown
        assert "Add the Order licence in Fortnox" in shown
        assert 'data-feature="invoice"' not in shown


def test_a_consent_without_the_order_scope_is_shown_as_a_missing_permission(stack):
    granted = ["customer", "article", "invoice", "price", "print", "settings", "currency", "companyinformation"]
    browser, _, _ = connect_company(stack, grantableScopes=granted)
    try:
        page = html.unescape(browser.get(f"{stack.running.gateway_url}/settings").text)
    finally:
        browser.close()

    assert 'data-feature="order" data-state="no_scope"' in page
    assert "did not grant hubnox the 'order' permission" in page


def test_a_fully_licensed_company_shows_working(stack, connected_portal):
    page = connected_portal.browser.get(f"{stack.running.gateway_url}/settings").text

    assert "· working" in page and "fortnox-health" not in page


def test_the_deal_card_warns_and_disables_create_order(stack):
    browser, portal_id, page = connect_company(stack, licences=["kundfaktura"])
    try:
        csrf = page_csrf(page)
        loaded = browser.request("GET", f"{stack.running.gateway_url}/settings/api/settings").json()
        saved = stack.gateway.put("/settings/api/settings", json={
            "version": loaded["version"], "settings": {**loaded["settings"], "default_document_type": "order"}},
            headers={"Cookie": f"hubnox_session={browser.session_cookie}", "X-CSRF-Token": csrf,
                     "Origin": stack.running.gateway_url})
        assert saved.status_code == 200, saved.text
    finally:
        browser.close()
    token = seeder_token(stack.running.hubspot_api_url, portal_id)
    deal = stack.hubspot.post("/crm/objects/2026-03/0-3", headers={"Authorization": f"Bearer {token}"},
                              json={"properties": {"dealname": "Licence check", "pipeline": "default",
                                                   "dealstage": "appointmentscheduled"}, "associations": []})
    assert deal.status_code == 201, deal.text

    card = fetch_card(stack, portal_id, "0-3", deal.json()["id"])

    assert any("Orders will not work" in warning for warning in card["fortnoxWarnings"])
    create = next(action for action in card["actions"] if action["action"] == "create-document")
    assert create["disabled"] is True and create["label"] == "Create order now (not available)"


def test_a_save_naming_terms_fortnox_lacks_is_refused_with_a_400_naming_the_field(stack, connected_portal):
    loaded = connected_portal.browser.request("GET", f"{stack.running.gateway_url}/settings/api/settings").json()
    settings = loaded["settings"]
    settings["customer_defaults"] = {**settings["customer_defaults"], "terms_of_payment": "45"}

    answer = stack.gateway.put("/settings/api/settings", json={"version": loaded["version"], "settings": settings},
                               headers={"Cookie": f"hubnox_session={connected_portal.browser.session_cookie}",
                                        "X-CSRF-Token": connected_portal.csrf_token(),
                                        "Origin": stack.running.gateway_url})

    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["code"] == "INVALID_SETTINGS"
    assert [error["field"] for error in body["errors"]] == ["customer_defaults.terms_of_payment"]
    assert "Fortnox has no terms of payment '45'" in body["errors"][0]["message"]
    again = connected_portal.browser.request("GET", f"{stack.running.gateway_url}/settings/api/settings").json()
    assert again["version"] == loaded["version"]

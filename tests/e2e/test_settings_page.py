"""The settings page in a real browser: an admin signed in through the install flow changes
settings, saves, reloads and finds them kept; a wrong value is explained beside its field; a save
over someone else's offers a reload; without Fortnox the Fortnox choices become text boxes that
say why.

The browser is Debian's Chromium (`/usr/bin/chromium`) driven by Playwright; `playwright install`
is not needed. Without Chromium these tests FAIL, saying to run `apt-get install chromium`, so a
missing browser is never mistaken for a pass. On a machine that cannot have Chromium, set
`HUBNOX_SKIP_BROWSER=1` to skip them instead.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox.admin import SESSION_COOKIE, AdminBrowser, install_hubnox

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
#: what Chromium needs to run headless as root on a build machine, and to stay offline
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 15_000


def chromium_path() -> str:
    if os.environ.get("HUBNOX_SKIP_BROWSER") == "1":
        pytest.skip("HUBNOX_SKIP_BROWSER=1: the browser tests are skipped")
    found = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    if not found:
        pytest.fail("Chromium is not installed: run `apt-get install chromium` (or set HUBNOX_SKIP_BROWSER=1 "
                    "to skip the browser tests)", pytrace=False)
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is missing: run `make install` (requirements-dev.txt has it)", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


class SettingsPage:
    """The settings page open in a browser tab, signed in with the admin's session cookie."""

    def __init__(self, browser: Any, gateway_url: str, session_cookie: str) -> None:
        self.url = f"{gateway_url}/settings"
        self.context = browser.new_context(viewport={"width": 900, "height": 1000})
        self.context.add_cookies([{"name": SESSION_COOKIE, "value": session_cookie, "url": gateway_url}])
        self.tab = self.context.new_page()
        self.tab.set_default_timeout(TIMEOUT_MS)
        self.script_errors: list[str] = []
        self.tab.on("pageerror", lambda error: self.script_errors.append(str(error)))

    def open(self) -> SettingsPage:
        self.tab.goto(self.url)
        return self.loaded()

    def reload(self) -> SettingsPage:
        self.tab.reload()
        return self.loaded()

    def loaded(self) -> SettingsPage:
        self.tab.locator("#sync-settings").wait_for(state="visible")
        return self

    def field(self, label: str) -> Any:
        return self.tab.get_by_label(label, exact=True)

    def stage_rows(self) -> Any:
        return self.tab.locator('[data-list="trigger_stages"] > li')

    def save(self) -> str:
        """Press Save and answer what the save bar says once the answer is in."""
        status = self.tab.locator("#save-status")
        self.tab.get_by_role("button", name="Save settings").click()
        self.tab.wait_for_function("!document.querySelector('#save-status').textContent.startsWith('Saving')")
        return status.inner_text()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def settings_page(browser, stack, connected_portal) -> Iterator[SettingsPage]:
    page = SettingsPage(browser, stack.running.gateway_url, connected_portal.login_cookie)
    yield page
    page.close()


def create_placeholder_article(stack, tenant_id: str, number: str = "HUBSPOT") -> None:
    """The article the placeholder settings bill on, made in the company as its bookkeeper would (through
    another integration): hubnox refuses placeholder settings naming an article Fortnox does not have."""
    auth, redirect_uri = stack.urls["fortnox_auth"], "http://127.0.0.1/bookkeeping-tool"
    consent = httpx.get(f"{auth}/oauth-v1/auth", params={
        "client_id": "bookkeeping-tool", "redirect_uri": redirect_uri, "response_type": "code", "state": "s",
        "scope": "article", "access_type": "offline", "sandbox_tenant": tenant_id})
    code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
    token = httpx.post(f"{auth}/oauth-v1/token", auth=("bookkeeping-tool", "bookkeeping-secret"), timeout=10.0,
                       data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri})
    created = stack.fortnox.post("/3/articles", json={"Article": {"ArticleNumber": number, "Description": "HubSpot"}},
                                 headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert created.status_code == 201, created.text


def stored_settings(stack, session_cookie: str) -> dict[str, Any]:
    answer = stack.gateway.get("/settings/api/settings", headers={"Cookie": f"{SESSION_COOKIE}={session_cookie}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_an_admin_changes_settings_saves_and_finds_them_kept_after_a_reload(settings_page, stack, connected_portal,
                                                                            tmp_path):
    create_placeholder_article(stack, connected_portal.tenant_id)
    page = settings_page.open()
    assert page.field("Terms of payment").evaluate("e => e.tagName") == "SELECT"  # Fortnox's list, not free text

    page.field("Default document").select_option("order")
    page.tab.get_by_role("button", name="Add a trigger stage").focus()
    page.tab.keyboard.press("Enter")  # by keyboard: the new row's first list takes the focus
    row = page.stage_rows().last
    assert row.get_by_label("Pipeline", exact=True).evaluate("e => e === document.activeElement")
    row.get_by_label("Stage", exact=True).select_option(label="Closed Won")
    row.get_by_label("Makes", exact=True).select_option("invoice")
    page.field("Terms of payment").select_option("10")
    page.tab.get_by_role("radio", name=re.compile("^Bill the line on the placeholder article")).check()
    page.tab.get_by_role("button", name="Remove company field 8").click()  # WWW, the last default mapping
    assert page.save().startswith("Saved")

    page.reload()
    assert page.field("Default document").input_value() == "order"
    assert page.stage_rows().count() == 1
    row = page.stage_rows().first
    assert (row.get_by_label("Pipeline", exact=True).input_value(), row.get_by_label("Stage", exact=True).input_value(),
            row.get_by_label("Makes", exact=True).input_value()) == ("default", "closedwon", "invoice")
    assert page.field("Terms of payment").input_value() == "10"
    assert page.tab.get_by_role("radio", name=re.compile("^Bill the line on the placeholder article")).is_checked()
    page.tab.screenshot(path=str(tmp_path / "settings-saved.png"), full_page=True)

    stored = stored_settings(stack, connected_portal.login_cookie)
    assert stored["version"] == 1
    settings = stored["settings"]
    assert (settings["default_document_type"], settings["customer_defaults"]["terms_of_payment"],
            settings["articles"]["policy"]) == ("order", "10", "placeholder")
    assert settings["trigger_stages"] == [{"pipeline_id": "default", "stage_id": "closedwon",
                                           "document_type": "invoice"}]
    assert list(settings["customer_fields"]["company"]) == ["Name", "Address1", "Address2", "ZipCode", "City",
                                                            "CountryCode", "Phone1"]
    assert page.script_errors == []


def test_a_wrong_value_is_explained_beside_its_field_and_nothing_is_saved(settings_page, stack, connected_portal,
                                                                          tmp_path):
    page = settings_page.open()
    placeholder = page.field("Placeholder article number")
    placeholder.fill("NOT VALID!")

    assert page.save().startswith("Not saved")

    error = page.tab.locator("#s-articles-placeholder-article-number-error")
    assert error.is_visible()
    assert "'NOT VALID!' is not a Fortnox article number" in error.inner_text()
    assert placeholder.get_attribute("aria-invalid") == "true"
    assert "is not a Fortnox article number" in placeholder.evaluate(
        "e => e.getAttribute('aria-describedby').split(' ').map(id => document.getElementById(id).textContent)"
        ".join(' ')")
    summary = page.tab.locator("#error-summary")
    assert summary.is_visible() and summary.evaluate("e => e === document.activeElement")
    summary.get_by_role("link", name=re.compile("Placeholder article number")).click()
    assert placeholder.evaluate("e => e === document.activeElement")
    page.tab.screenshot(path=str(tmp_path / "settings-refused.png"), full_page=True)

    assert stored_settings(stack, connected_portal.login_cookie)["version"] == 0
    assert page.script_errors == []


def test_a_value_fortnox_does_not_have_is_explained_beside_its_field(settings_page, stack, connected_portal):
    page = settings_page.open()
    page.tab.get_by_role("radio", name=re.compile("^Bill the line on the placeholder article")).check()
    placeholder = page.field("Placeholder article number")
    placeholder.fill("NOPE-1")

    assert page.save().startswith("Not saved")

    error = page.tab.locator("#s-articles-placeholder-article-number-error")
    assert error.is_visible()
    assert "Fortnox has no article 'NOPE-1'" in error.inner_text()
    assert placeholder.get_attribute("aria-invalid") == "true"
    assert stored_settings(stack, connected_portal.login_cookie)["version"] == 0
    assert page.script_errors == []


def test_a_save_over_someone_elses_says_so_and_offers_a_reload(settings_page, stack, connected_portal):
    create_placeholder_article(stack, connected_portal.tenant_id)
    page = settings_page.open()
    other_admin = stack.gateway.put(
        "/settings/api/settings", json={"version": 0, "settings": {"no_line_items": "placeholder_row"}},
        headers={"Cookie": f"{SESSION_COOKIE}={connected_portal.login_cookie}",
                 "X-CSRF-Token": connected_portal.csrf_token()})
    assert other_admin.status_code == 200, other_admin.text

    page.field("Default document").select_option("order")
    assert page.save().startswith("Not saved")

    stale = page.tab.get_by_role("alert").filter(has_text="changed by someone else")
    assert stale.is_visible()
    stale.get_by_role("button", name="Reload the settings").click()
    page.loaded()
    assert page.tab.get_by_role("radio", name=re.compile("^Bill the deal's amount")).is_checked()
    assert page.field("Default document").input_value() == "invoice"


def test_without_fortnox_its_choices_are_text_boxes_that_say_why(browser, stack):
    admin = AdminBrowser()
    try:
        install_hubnox(admin, stack.running.gateway_url)
        page = SettingsPage(browser, stack.running.gateway_url, admin.session_cookie or "")
        try:
            page.open()
            terms = page.field("Terms of payment")
            assert terms.evaluate("e => e.tagName") == "INPUT"
            note = page.tab.locator("#s-customer-defaults-terms-of-payment-note")
            assert "Fortnox is not connected" in note.inner_text()
            assert page.field("HubSpot company property").evaluate("e => e.tagName") == "SELECT"
            terms.fill("30")
            assert page.save().startswith("Saved")
            assert page.reload().field("Terms of payment").input_value() == "30"
            assert page.script_errors == []
        finally:
            page.close()
    finally:
        admin.close()


def test_the_page_is_served_whole_from_hubnox(settings_page, stack):
    requested: list[str] = []
    settings_page.tab.on("request", lambda request: requested.append(request.url))

    settings_page.open()

    gateway = stack.running.gateway_url
    assert requested and all(url.startswith(gateway) for url in requested), requested
    assert httpx.URL(requested[0]).path == "/settings"


def test_the_page_gets_hubspot_properties_through_the_gateway(stack, connected_portal):
    answer = stack.gateway.get("/settings/api/hubspot/properties/companies",
                               headers={"Cookie": f"{SESSION_COOKIE}={connected_portal.login_cookie}"})

    assert answer.status_code == 200, answer.text
    assert "organisation_number" in {p["name"] for p in answer.json()["properties"]}


def test_an_admin_deletes_the_portals_data_after_typing_its_id(settings_page, stack, connected_portal):
    tab = settings_page.open().tab
    status = tab.locator("[data-delete-status]")
    tab.get_by_label("Type the portal id").fill("not-the-id")
    tab.get_by_role("button", name="Delete all of hubnox's data").click()
    tab.wait_for_function("document.querySelector('[data-delete-status]').textContent.includes('confirm')")
    assert "confirm" in status.inner_text()

    tab.get_by_label("Type the portal id").fill(connected_portal.portal_id)
    tab.get_by_role("button", name="Delete all of hubnox's data").click()
    tab.wait_for_function("document.querySelector('[data-delete-status]').textContent.includes('deleted')")
    assert "hubnox's data for this portal is deleted" in status.inner_text()
    assert tab.get_by_role("button", name="Delete all of hubnox's data").is_disabled()
    assert settings_page.script_errors == []


def test_sync_products_now_makes_articles_of_the_portals_products(settings_page, stack, connected_portal):
    headers = {"Authorization": f"Bearer {connected_portal.hubspot_token}"}
    product = stack.hubspot.post("/crm/objects/2026-03/products", headers=headers, json={
        "properties": {"name": "hubnox seat, 12 months", "price": "1490.50", "hs_sku": "HNX-SEAT"},
        "associations": []})
    assert product.status_code == 201, product.text
    tab = settings_page.open().tab

    tab.get_by_role("button", name="Sync products now").click()
    tab.wait_for_function("document.querySelector('[data-sync-products-status]').textContent.includes('synced')")
    assert stack.gateway.post("/_sandbox/worker/drain").json()["timed_out"] is False

    company = stack.fortnox.get(f"/_sandbox/companies/{connected_portal.tenant_id}").json()
    assert [a["Description"] for a in company["Articles"] if a["ArticleNumber"] == "HNX-SEAT"] == [
        "hubnox seat, 12 months"]
    tab.get_by_role("button", name="Refresh").click()
    tab.wait_for_function("document.querySelector('[data-product-sync-latest]').textContent.includes('1 created')")
    assert "0 skipped" in tab.locator("[data-product-sync-latest]").inner_text()
    assert settings_page.script_errors == []

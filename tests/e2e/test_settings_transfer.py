"""Copying settings from a test portal to production in a real browser, against the local stack: the
admin exports the test portal's settings as a file, imports it on the production portal's settings
page (360 px wide, as on a phone or a narrow HubSpot frame), reads the preview (what changes, what the
production portal lacks), applies it, and finds the form showing the test portal's settings, which it
saves over without a conflict. The test portal has a pipeline and a company property production does not: both are
reported, imported as they are, and shown in the form as not found.

Chromium and Playwright as in `test_settings_page` (whose `browser` fixture this module shares).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.admin import SESSION_COOKIE, AdminBrowser, ConnectedPortal, connect_fortnox, install_hubnox, page_csrf
from tests.e2e.test_settings_admins import OVERFLOWING
from tests.e2e.test_settings_page import TIMEOUT_MS, browser  # noqa: F401 (the shared browser fixture)

pytestmark = pytest.mark.e2e

PHONE_WIDTH = 360
TEST_PIPELINE = {"id": "test-sales", "label": "Test sales",
                 "stages": [{"id": "test-won", "label": "Won", "closed": True}]}
TEST_PROPERTY = {"name": "org_nr_test", "label": "Org nr (test)", "type": "string", "fieldType": "text",
                 "groupName": "companyinformation"}
#: what the admin set up in the test portal
TESTED = {
    "default_document_type": "order",
    "trigger_stages": [{"pipeline_id": "test-sales", "stage_id": "test-won", "document_type": "invoice"},
                       {"pipeline_id": "default", "stage_id": "closedwon", "document_type": "order"}],
    "company_match": {"hubspot_property": "org_nr_test", "fortnox_field": "OrganisationNumber",
                      "when_value_missing": "match_name"},
    "customer_defaults": {"terms_of_payment": "30", "currency": "EUR"},
    "no_line_items": "fail",
    "deal_fields": {"remarks": "description"},
}


def portal_with(stack, seed: dict[str, Any]) -> Iterator[ConnectedPortal]:
    """A HubSpot portal seeded with `seed`, hubnox installed in it and a fresh Fortnox company connected."""
    made = stack.hubspot.post("/_sandbox/portals", json=seed)
    assert made.status_code == 201, made.text
    admin = AdminBrowser()
    try:
        portal_id = install_hubnox(admin, stack.running.gateway_url, portal_id=str(made.json()["portalId"]))
        page = connect_fortnox(admin, stack.running.gateway_url)
        yield ConnectedPortal(portal_id, "", "", admin, page)
    finally:
        admin.close()


@pytest.fixture
def test_portal(stack) -> Iterator[ConnectedPortal]:
    yield from portal_with(stack, {"pipelines": [TEST_PIPELINE], "properties": {"companies": [TEST_PROPERTY]}})


@pytest.fixture
def production(stack) -> Iterator[ConnectedPortal]:
    yield from portal_with(stack, {})


def api(stack, portal: ConnectedPortal, method: str, body: Any = None) -> dict[str, Any]:
    answer = stack.gateway.request(method, "/settings/api/settings", json=body, headers={
        "Cookie": f"{SESSION_COOKIE}={portal.login_cookie}", "X-CSRF-Token": page_csrf(portal.settings_page)})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def signed_in(browser: Any, stack, portal: ConnectedPortal, width: int) -> Any:  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True)
    context.add_cookies([{"name": SESSION_COOKIE, "value": portal.login_cookie, "url": stack.running.gateway_url}])
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(f"{stack.running.gateway_url}/settings")
    tab.locator("#sync-settings").wait_for(state="visible")
    return context, tab, errors


def test_an_admin_copies_the_test_portals_settings_to_production(browser, stack, test_portal, production,  # noqa: F811
                                                                 tmp_path):
    api(stack, test_portal, "PUT", {"version": 0, "settings": TESTED})
    tested = api(stack, test_portal, "GET")["settings"]

    # In the test portal: Export downloads the file.
    context, tab, errors = signed_in(browser, stack, test_portal, 1000)
    try:
        with tab.expect_download() as download:
            tab.get_by_role("link", name="Export settings").click()
        assert download.value.suggested_filename.startswith(f"hubnox-settings-{test_portal.portal_id}-")
        exported = tmp_path / download.value.suggested_filename
        download.value.save_as(exported)
        assert errors == []
    finally:
        context.close()
    document = json.loads(exported.read_text(encoding="utf-8"))
    assert (document["format"], document["portalId"], document["settings"]) == (
        "hubnox-settings", test_portal.portal_id, tested)

    # In production, 360 px wide: import the file, read the preview, apply.
    context, tab, errors = signed_in(browser, stack, production, PHONE_WIDTH)
    try:
        transfer = tab.locator("section#transfer")
        transfer.get_by_label("Import settings from a file").set_input_files(str(exported))
        preview = transfer.locator("[data-import-preview]")
        preview.wait_for(state="visible")
        changes = transfer.locator("[data-import-changes] li").all_inner_texts()
        assert "default_document_type: invoice → order" in changes
        assert "company_match.hubspot_property: organisation_number → org_nr_test" in changes
        assert "customer_defaults.currency: not set → EUR" in changes
        assert ("trigger_stages: none → test-sales / test-won (invoice); default / closedwon (order)" in changes)
        problems = transfer.locator("[data-import-problems] li").all_inner_texts()
        assert len(problems) == 2, problems
        assert problems[0].startswith("trigger_stages.0.pipeline_id: This HubSpot portal has no deal pipeline "
                                      "'test-sales'")
        assert problems[1].startswith("company_match.hubspot_property: This HubSpot portal has no company "
                                      "property 'org_nr_test'")
        assert f"From portal {test_portal.portal_id}" in transfer.locator("[data-import-source]").inner_text()
        assert api(stack, production, "GET")["version"] == 0  # the preview saved nothing
        assert tab.evaluate(OVERFLOWING) == []
        transfer.screenshot(path=str(tmp_path / "import-preview-360.png"))

        transfer.get_by_role("button", name="Apply").click()
        status = transfer.locator("[data-import-status]")
        tab.wait_for_function("document.querySelector('[data-import-status]').textContent.startsWith('Imported')")
        assert "Fix what is listed below" in status.inner_text()
        assert transfer.locator("[data-import-problems] li").count() == 2  # still to fix, now in the form

        # The form shows the imported settings, the unknown pipeline named as such, and saves over them.
        assert tab.get_by_label("Default document", exact=True).input_value() == "order"
        rows = tab.locator('[data-list="trigger_stages"] > li')
        assert rows.count() == 2
        pipeline = rows.first.get_by_label("Pipeline", exact=True)
        assert pipeline.input_value() == "test-sales"
        assert "not found in HubSpot" in pipeline.locator("option:checked").inner_text()
        assert tab.get_by_label("Terms of payment", exact=True).input_value() == "30"
        assert tab.evaluate(OVERFLOWING) == []
        tab.screenshot(path=str(tmp_path / "import-applied-360.png"), full_page=True)

        # Production now holds the test portal's settings, reported ids and all.
        imported = api(stack, production, "GET")
        assert (imported["version"], imported["settings"]) == (1, tested)

        # The form saves over the imported version (no "changed by someone else").
        tab.get_by_label("Default document", exact=True).select_option("invoice")
        tab.get_by_role("button", name="Save settings").click()
        tab.wait_for_function("document.querySelector('#save-status').textContent.startsWith('Saved')")
        assert errors == []
    finally:
        context.close()

    saved = api(stack, production, "GET")
    assert (saved["version"], saved["settings"]) == (2, {**tested, "default_document_type": "invoice"})

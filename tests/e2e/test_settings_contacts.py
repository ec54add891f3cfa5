"""An admin switches primary contact sync off and on in a real browser, and picks its contact rule."""

from __future__ import annotations

import pytest

from tests.e2e.test_settings_page import browser, settings_page, stored_settings  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e


def test_an_admin_turns_primary_contact_sync_off_and_on_with_its_rule(settings_page, stack,  # noqa: F811
                                                                     connected_portal, tmp_path):
    page = settings_page.open()
    switch = page.field("Enable primary contact sync")
    rule = page.tab.locator('[data-field="contact_match"]')
    contact_property = page.field("HubSpot contact property")
    assert switch.is_checked() and contact_property.is_visible()

    switch.uncheck()
    assert not contact_property.is_visible()  # the rule means nothing while contacts are never billed
    assert page.save().startswith("Saved")
    page.reload()
    assert not page.field("Enable primary contact sync").is_checked()
    assert not page.field("HubSpot contact property").is_visible()
    assert stored_settings(stack, connected_portal.login_cookie)["settings"]["primary_contact_sync"] is False

    page.field("Enable primary contact sync").check()
    page.field("HubSpot contact property").select_option("phone")
    rule.get_by_label("Fortnox customer field it matches", exact=True).select_option("Phone1")
    assert page.save().startswith("Saved")
    rule.screenshot(path=str(tmp_path / "settings-primary-contact-sync.png"))
    page.tab.set_viewport_size({"width": 360, "height": 800})
    rule.screenshot(path=str(tmp_path / "settings-primary-contact-sync-360.png"))

    settings = stored_settings(stack, connected_portal.login_cookie)["settings"]
    assert settings["primary_contact_sync"] is True
    assert settings["contact_match"] == {"hubspot_property": "phone", "fortnox_field": "Phone1",
                                         "when_value_missing": "create"}
    assert page.script_errors == []

"""The settings page's primary contact sync: a switch in the Customers section with its contact rule
beside it, the rule shown only while the switch is on."""

from __future__ import annotations

import re

from tests.unit.test_settings_page import settings_page, world  # noqa: F401  (the fixture)


def test_primary_contact_sync_is_a_labelled_switch_in_the_customers_section_with_its_rule(world):  # noqa: F811
    page, _ = settings_page(world)

    customers = re.search(r'<section class="card" id="customers".*?</section>', page, re.S)
    assert customers is not None
    section = customers.group(0)
    switch = section.index('data-setting="primary_contact_sync"')
    rule = section.index('data-shown-if="primary_contact_sync"')
    assert switch < rule < section.index('data-setting="contact_match.hubspot_property"')
    assert "Enable primary contact sync" in section
    assert "a deal without a company fails with a note" in section

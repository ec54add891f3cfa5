"""A line item's own tax rate, the deal owner as our reference, and the workflow's print template,
from HubSpot to the Fortnox document: each read with one call only when the deal needs it, each
degrading to a warning when HubSpot's optional scope was not granted.

The world is test_runner's: the simulators in process, hubnox's real clients, the stores on moto.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from hubnox.api_http import RetryPolicy
from hubnox.hubspot.client import HubSpotClient
from hubnox.jobs import Job
from hubnox.rate_budget import LocalRateBudget
from hubnox.records import RunRequest
from hubnox.services.install import HUBSPOT_OPTIONAL_SCOPES, HUBSPOT_SCOPES
from hubnox.sync.jobs.documents import with_print_template
from hubnox.sync.portal_settings import DealMappings, PortalSettings
from hubnox.sync.reader import properties_to_read, read_deal
from hubnox.tokens import StaticToken
from tests.integration.test_runner import WORKSHOP, World, seed

LUNCH = {"name": "Konferenslunch", "quantity": "10", "price": "145", "hs_sku": "LUNCH",
         "hs_tax_rate_group_id": "food"}
OWNER = {"ref": "sara", "firstName": "Sara", "lastName": "Säljare", "email": "sara@acme.example"}
TAX_RATES = [{"ref": "standard", "name": "SE VAT 25%", "percentageRate": 25},
             {"ref": "food", "name": "SE VAT 12%", "percentageRate": 12}]


def spec(lines: list[dict[str, str]], *, owner: dict[str, Any] | None = None) -> dict[str, Any]:
    """test_runner's seed with our tax-rate library and, when given, an owner who owns the deal."""
    seeded = seed(lines)
    seeded["taxRates"] = TAX_RATES
    if owner is not None:
        seeded["owners"] = [owner]
        seeded["objects"]["deals"][0]["properties"]["hubspot_owner_id"] = owner["ref"]
    return seeded


def granting_optional_scopes(world: World) -> World:
    """The world with hubnox installed as an admin installs it when HubSpot grants the optional scopes."""
    token = world._hubspot_token(scopes=(*HUBSPOT_SCOPES, *HUBSPOT_OPTIONAL_SCOPES))
    world.hubspot = HubSpotClient(world.hs_http, StaticToken(token), LocalRateBudget(), world.portal,
                                  retry=RetryPolicy(sleep=lambda seconds: None))
    return world


def calls_to(world: World, prefix: str) -> list[tuple[str, str]]:
    return [(method, path) for method, path in world.hubspot_calls() if path.startswith(prefix)]


def job_with_template(world: World, template: str | None) -> Job:
    run = world.runs.create(RunRequest(portal_id=world.portal, kind="create_document", trigger="workflow",
                                       object_type="deal", object_id=world.deal_id, document_type="invoice",
                                       trigger_key="workflow:invoice", print_template=template))
    return Job.for_run(run)


# -- the line item's own tax rate -------------------------------------------------------------------


def test_a_line_with_a_tax_rate_is_billed_at_its_vat_and_a_line_without_at_its_articles(table):
    world = granting_optional_scopes(World(table, spec([WORKSHOP, LUNCH])))
    world.hubspot_sim.log.clear()

    run = world.run()

    [invoice] = world.invoices()
    assert run.status == "succeeded", run.error_message
    assert [(row["Description"], Decimal(str(row["VAT"]))) for row in invoice["InvoiceRows"]] == [
        ("Onboarding workshop", Decimal(25)), ("Konferenslunch", Decimal(12))]
    assert Decimal(str(invoice["TotalVAT"])) == Decimal("12000") * Decimal("0.25") + Decimal("1450") * Decimal("0.12")
    assert calls_to(world, "/tax-rates/") == [("GET", "/tax-rates/2026-03/tax-rates")]


def test_the_tax_rate_library_is_not_read_when_no_line_item_names_a_rate(table):
    world = granting_optional_scopes(World(table, spec([WORKSHOP])))
    world.hubspot_sim.log.clear()

    reading = read_deal(world.hubspot, world.deal_id, properties_to_read(PortalSettings()))

    assert reading.tax_rates == {}
    assert calls_to(world, "/tax-rates/") == []


def test_the_library_is_read_once_however_many_lines_name_rates(table):
    lines = [{**LUNCH, "name": f"Lunch {i}", "hs_sku": f"LUNCH-{i}"} for i in range(30)]
    world = granting_optional_scopes(World(table, spec(lines)))
    world.hubspot_sim.log.clear()

    reading = read_deal(world.hubspot, world.deal_id, properties_to_read(PortalSettings()))

    assert reading.tax_rates[world.refs["food"]] == Decimal(12)
    assert len(calls_to(world, "/tax-rates/")) == 1


def test_without_the_tax_rates_scope_the_line_takes_its_articles_vat_and_the_note_says_why(table):
    world = World(table, spec([LUNCH]))  # installed with the required scopes only

    run = world.run()

    [invoice] = world.invoices()
    assert run.status == "succeeded", run.error_message
    assert Decimal(str(invoice["InvoiceRows"][0]["VAT"])) == Decimal(25)
    [note] = world.notes()
    assert "tax_rates.read" in note["hs_note_body"]


def test_a_rate_fortnox_does_not_have_fails_the_run_with_a_note_saying_which(table):
    seeded = spec([LUNCH])
    seeded["taxRates"] = [{"ref": "food", "name": "Odd", "percentageRate": 12.5}]
    world = granting_optional_scopes(World(table, seeded))

    run = world.run()

    assert (run.status, run.error_code) == ("failed", "UNSUPPORTED_VAT_RATE")
    assert world.invoices() == []
    assert "12.5 %" in world.notes()[0]["hs_note_body"]


# -- the deal owner as our reference ----------------------------------------------------------------


def test_the_deal_owner_is_the_invoices_our_reference_read_in_one_more_call(table):
    world = granting_optional_scopes(World(table, spec([WORKSHOP], owner=OWNER)))
    world.hubspot_sim.log.clear()

    run = world.run()

    [invoice] = world.invoices()
    assert run.status == "succeeded", run.error_message
    assert invoice["OurReference"] == "Sara Säljare"
    assert calls_to(world, "/crm/owners/") == [("GET", f"/crm/owners/2026-03/{world.refs['sara']}")]


def test_no_owner_is_read_for_a_deal_without_one(table):
    world = granting_optional_scopes(World(table, spec([WORKSHOP])))
    world.hubspot_sim.log.clear()

    world.run()

    assert calls_to(world, "/crm/owners/") == []
    assert "OurReference" not in world.invoices()[0] or not world.invoices()[0]["OurReference"]


def test_no_owner_is_read_when_our_reference_is_mapped_to_a_deal_property(table):
    seeded = spec([WORKSHOP], owner=OWNER)
    seeded["objects"]["deals"][0]["properties"]["description"] = "Per Projektledare"
    world = granting_optional_scopes(World(table, seeded))
    world.configure(deal_fields={"our_reference": "description"})
    world.hubspot_sim.log.clear()

    world.run()

    assert world.invoices()[0]["OurReference"] == "Per Projektledare"
    assert calls_to(world, "/crm/owners/") == []
    assert properties_to_read(PortalSettings(deal_fields=DealMappings(our_reference="description"))).owner is False


def test_a_deactivated_users_deal_still_names_them_found_among_the_archived_owners(table):
    world = granting_optional_scopes(World(table, spec([WORKSHOP], owner={**OWNER, "archived": True})))
    world.hubspot_sim.log.clear()

    world.run()

    assert world.invoices()[0]["OurReference"] == "Sara Säljare"
    assert len(calls_to(world, "/crm/owners/")) == 2


def test_an_owner_without_a_name_is_referred_to_by_e_mail(table):
    world = granting_optional_scopes(World(table, spec([WORKSHOP], owner={**OWNER, "firstName": "",
                                                                             "lastName": ""})))

    world.run()

    assert world.invoices()[0]["OurReference"] == "sara@acme.example"


def test_an_owner_hubspot_does_not_know_leaves_our_reference_empty_with_a_warning(table):
    seeded = spec([WORKSHOP])
    seeded["objects"]["deals"][0]["properties"]["hubspot_owner_id"] = "404404"
    world = granting_optional_scopes(World(table, seeded))

    run = world.run()

    assert run.status == "succeeded"
    assert not world.invoices()[0].get("OurReference")
    assert "owner 404404 was not found" in world.notes()[0]["hs_note_body"]


def test_without_the_owners_scope_the_invoice_has_no_our_reference_and_the_note_says_why(table):
    world = World(table, spec([WORKSHOP], owner=OWNER))  # installed with the required scopes only

    run = world.run()

    assert run.status == "succeeded", run.error_message
    assert not world.invoices()[0].get("OurReference")
    assert "crm.objects.owners.read" in world.notes()[0]["hs_note_body"]


# -- the workflow's print template ------------------------------------------------------------------


def test_the_print_template_the_workflow_chose_is_the_invoices(table):
    world = World(table, spec([WORKSHOP]))

    run = world.run(job_with_template(world, "faktura_en"))

    assert run.status == "succeeded", run.error_message
    assert world.invoices()[0]["PrintTemplate"] == "faktura_en"


def test_without_a_chosen_template_the_customers_default_applies(table):
    world = World(table, spec([WORKSHOP]))
    world.configure(customer_defaults={"invoice_print_template": "faktura_en"})

    world.run(job_with_template(world, None))

    assert world.invoices()[0]["PrintTemplate"] == "faktura_en"
    assert world.fortnox_company()["Customers"][0]["DefaultTemplates"]["Invoice"] == "faktura_en"


def test_the_chosen_template_overrides_the_portals_default(table):
    world = World(table, spec([WORKSHOP]))
    world.configure(customer_defaults={"invoice_print_template": "faktura_en"})

    world.run(job_with_template(world, "fakt"))

    assert world.invoices()[0]["PrintTemplate"] == "fakt"


def test_a_template_fortnox_does_not_have_fails_the_run_and_the_note_explains_it(table):
    world = World(table, spec([WORKSHOP]))

    run = world.run(job_with_template(world, "orderbekr-typo"))

    assert (run.status, run.error_code) == ("failed", "FORTNOX_2000442")
    assert world.invoices() == []
    body = world.notes()[0]["hs_note_body"]
    assert "orderbekr-typo" in body and "print template" in body and "Print template field" in body


@pytest.mark.parametrize("template", [None, ""])
def test_no_template_leaves_the_draft_as_it_was(template):
    sentinel: Any = object()
    assert with_print_template(sentinel, template) is sentinel

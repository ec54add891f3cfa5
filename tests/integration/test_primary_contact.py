"""Primary contact sync through the whole run, on the simulators: a deal without a company billed to
its primary contact (HubSpot's labelled association), and a deal with a company naming that contact
as its reference and filling the customer's empty e-mail and phone."""

from __future__ import annotations

from typing import Any

from hubnox.fortnox.models import FortnoxCustomer
from tests.integration.test_runner import World, seed, table  # noqa: F401  (the fixture)


def with_primary(spec: dict[str, Any], contact: int) -> dict[str, Any]:
    """The seed with one of the deal's contacts carrying the portal's own "Primary" label."""
    links = spec["objects"]["deals"][0]["associations"]
    for link in links:
        if link["to"] == f"contact{contact}":
            link["label"] = "Primary"
    return spec


def test_a_deal_without_a_company_is_billed_to_its_primary_contact_as_a_private_customer(table):  # noqa: F811
    world = World(table, with_primary(seed(company=False, contacts=3), contact=1))

    run = world.run()

    assert run.status == "succeeded", run.error_message
    [customer] = world.fortnox_company()["Customers"]
    assert (customer["Name"], customer["Type"], customer["Email"]) == ("Anna1 Andersson", "PRIVATE",
                                                                      "anna1@acme.example")
    [invoice] = world.invoices()
    assert (invoice["CustomerNumber"], invoice["YourReference"]) == (customer["CustomerNumber"], "Anna1 Andersson")
    assert world.record("contacts", "contact1")["fortnox_customer_number"] == customer["CustomerNumber"]


def test_a_deal_without_a_company_matches_its_primary_contact_by_the_contact_rule(table):  # noqa: F811
    world = World(table, with_primary(seed(company=False, contacts=2), contact=1))
    existing = world.fortnox.create_customer(FortnoxCustomer(name="Anna Andersson", email="anna1@acme.example",
                                                             type="PRIVATE"))

    run = world.run()

    assert run.status == "succeeded", run.error_message
    assert [c["CustomerNumber"] for c in world.fortnox_company()["Customers"]] == [existing.customer_number]
    assert world.invoices()[0]["CustomerNumber"] == existing.customer_number


def test_with_primary_contact_sync_off_a_deal_without_a_company_fails_with_a_note_saying_so(table):  # noqa: F811
    world = World(table, seed(company=False, contacts=1))
    world.configure(primary_contact_sync=False)

    run = world.run()

    assert (run.status, run.error_code) == ("failed", "MISSING_COMPANY")
    assert world.fortnox_company()["Customers"] == [] and world.invoices() == []
    [note] = world.notes()
    assert "primary contact sync is off" in note["hs_note_body"]
    assert "turn on primary contact sync" in note["hs_note_body"]


def test_a_deal_with_a_company_names_its_primary_contact_and_fills_the_customers_empty_email_and_phone(
        table):  # noqa: F811
    spec = with_primary(seed(contacts=2), contact=1)
    spec["objects"]["contacts"][1]["properties"]["phone"] = "070-555 12 34"
    world = World(table, spec)
    acme = world.fortnox.create_customer(FortnoxCustomer(name="Acme AB", organisation_number="556036-0793",
                                                         city="Stockholm", country_code="SE"))

    run = world.run()

    assert run.status == "succeeded", run.error_message
    [invoice] = world.invoices()
    assert (invoice["CustomerNumber"], invoice["YourReference"]) == (acme.customer_number, "Anna1 Andersson")
    customer = world.fortnox.get_customer(acme.customer_number or "")
    assert (customer.email, customer.phone1) == ("anna1@acme.example", "070-555 12 34")


def test_a_company_customers_own_email_stays_and_with_sync_off_the_contact_is_not_the_reference(
        table):  # noqa: F811
    world = World(table, seed(contacts=1))
    world.configure(primary_contact_sync=False)
    acme = world.fortnox.create_customer(FortnoxCustomer(name="Acme AB", organisation_number="556036-0793",
                                                         city="Stockholm", country_code="SE"))

    run = world.run()

    assert run.status == "succeeded", run.error_message
    [invoice] = world.invoices()
    assert invoice["CustomerNumber"] == acme.customer_number and not invoice.get("YourReference")
    assert not world.fortnox.get_customer(acme.customer_number or "").email

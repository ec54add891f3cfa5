"""The registers a customer's defaults point into: ways and terms of delivery, accounts, cost
centers and projects on the Fortnox simulator (their shapes are held to the spec in test_fortnox_spec)."""

from __future__ import annotations

import pytest

from tests.sandbox.test_fortnox_support import connect, error_code


@pytest.fixture
def api():
    return connect()


def codes(response, wrapper, key="Code"):
    assert response.status_code == 200, response.text
    return [item[key] for item in response.json()[wrapper]]


def test_a_new_company_has_some_of_each(api):
    assert codes(api.get("/3/wayofdeliveries"), "WayOfDeliveries") == ["BUD", "P"]
    assert codes(api.get("/3/termsofdeliveries"), "TermsOfDeliveries") == ["FK", "FVL"]
    assert 3001 in codes(api.get("/3/accounts"), "Accounts", "Number")
    assert codes(api.get("/3/costcenters"), "CostCenters") == ["SALJ"]
    assert codes(api.get("/3/projects"), "Projects", "ProjectNumber") == ["1"]


def test_accounts_list_in_number_order_with_meta_information(api):
    api.created("/3/accounts", "Account", {"Number": 3010, "Description": "Försäljning tjänster"})

    response = api.get("/3/accounts", params={"sortby": "number"})
    numbers = codes(response, "Accounts", "Number")

    assert numbers == sorted(numbers) and 3010 in numbers
    assert response.json()["MetaInformation"]["@TotalResources"] == len(numbers)


def test_projects_are_numbered_when_the_request_does_not_say(api):
    project = api.created("/3/projects", "Project", {"Description": "Lansering"})

    assert (project["ProjectNumber"], project["Status"]) == ("2", "NOTSTARTED")
    assert project["@url"].endswith("/3/projects/2")


def test_a_code_is_created_once(api):
    api.created("/3/costcenters", "CostCenter", {"Code": "NORR", "Description": "Region norr"})

    again = api.post("/3/costcenters", {"CostCenter": {"Code": "NORR", "Description": "Igen"}})

    assert again.status_code == 400
    assert error_code(again) == 2000372


def test_a_customer_may_name_only_codes_its_company_has(api):
    customer = api.customer(WayOfDelivery="P", TermsOfDelivery="FVL", CostCenter="SALJ", Project="1",
                            SalesAccount="3001")
    assert (customer["CostCenter"], customer["SalesAccount"]) == ("SALJ", "3001")

    refused = api.post("/3/customers", {"Customer": {"Name": "Beta AB", "CostCenter": "NOPE"}})

    assert refused.status_code == 400
    assert "CostCenter" in refused.json()["ErrorInformation"]["message"]


def test_the_lists_need_their_scopes():
    narrow = connect(scope="customer settings companyinformation")

    assert narrow.get("/3/wayofdeliveries").status_code == 200
    assert narrow.get("/3/accounts").status_code == 403
    assert narrow.get("/3/costcenters").status_code == 403

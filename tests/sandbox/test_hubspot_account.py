"""The HubSpot simulator's tax-rate library and owners: a new portal has Swedish VAT and its admin as
owner, both can be seeded and changed through the control surface, and the API answers as HubSpot's
reference describes, with its scopes, paging, archived owners and 404s."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox.test_hubspot_support import START, FakeClock, Installed, install, simulator
from tests.support import hubspot_reference

RATES = "/tax-rates/2026-03/tax-rates"


@pytest.fixture
def app() -> Installed:
    return install(simulator(FakeClock(START)))


def dump(app: Installed, portal_id: Any = None) -> dict[str, Any]:
    return app.client.get(f"/_sandbox/portals/{portal_id or app.portal_id}").json()


def get(app: Installed, path: str, **params: Any) -> Any:
    response = app.call("GET", path, params=params)
    hubspot_reference.validate_response("GET", path, response.status_code, response.json())
    return response


def test_a_new_portals_library_holds_swedish_vat_at_25_12_6_and_0_percent(app):
    rates = get(app, RATES).json()["results"]

    assert [(rate["percentageRate"], rate["label"], rate["active"]) for rate in rates] == [
        (25, "Moms 25 %", True), (12, "Moms 12 %", True), (6, "Moms 6 %", True), (0, "Momsfri 0 %", True)]
    assert len({rate["id"] for rate in rates}) == 4


def test_the_library_pages_with_after_and_limit_and_the_v1_path_answers_the_same(app):
    first = get(app, RATES, limit=3).json()
    rest = get(app, RATES, limit=3, after=first["paging"]["next"]["after"]).json()

    assert [r["percentageRate"] for r in first["results"] + rest["results"]] == [25, 12, 6, 0]
    assert "paging" not in rest
    assert get(app, "/tax-rates/v1/tax-rates").json()["results"] == get(app, RATES).json()["results"]
    assert get(app, RATES, limit=101).status_code == 400


def test_one_tax_rate_is_read_by_its_id_and_an_unknown_one_is_a_404(app):
    twelve = dump(app)["taxRates"][1]

    assert get(app, f"{RATES}/{twelve['id']}").json() == twelve
    missing = get(app, f"{RATES}/999")
    assert (missing.status_code, missing.json()["category"]) == (404, "OBJECT_NOT_FOUND")


def test_the_library_can_be_replaced_with_fractional_and_inactive_rates(app):
    answer = app.client.put(f"/_sandbox/portals/{app.portal_id}/tax-rates", json={"taxRates": [
        {"id": "vat-food", "name": "Food", "percentageRate": 12}, {"name": "Old", "percentageRate": 12.5,
                                                                  "active": False}]})

    assert answer.status_code == 200, answer.text
    rates = get(app, RATES).json()["results"]
    assert [(r["id"] == "vat-food", r["percentageRate"], r["active"]) for r in rates] == [
        (True, 12, True), (False, 12.5, False)]


@pytest.mark.parametrize("rates", [
    [{"name": "Too much", "percentageRate": 101}],
    [{"name": "Not a number", "percentageRate": "lots"}],
    [{"percentageRate": 25}],
    [{"id": "a", "name": "A", "percentageRate": 1}, {"id": "a", "name": "B", "percentageRate": 2}],
])
def test_a_malformed_library_is_refused_and_the_old_one_kept(app, rates):
    answer = app.client.put(f"/_sandbox/portals/{app.portal_id}/tax-rates", json={"taxRates": rates})

    assert answer.status_code == 400
    assert len(get(app, RATES).json()["results"]) == 4


def test_a_new_portals_one_owner_is_its_super_admin(app):
    [owner] = dump(app)["owners"]
    portal = dump(app)

    assert (owner["email"], owner["userId"]) == (portal["userEmail"], portal["userId"])
    assert get(app, f"/crm/owners/2026-03/{owner['id']}").json() == owner
    by_user = get(app, f"/crm/owners/2026-03/{owner['userId']}", idProperty="userId")
    assert by_user.json()["id"] == owner["id"]


def test_an_added_owner_is_found_and_an_archived_one_only_among_the_archived(app):
    added = app.client.post(f"/_sandbox/portals/{app.portal_id}/owners", json={
        "firstName": "Sara", "lastName": "Säljare", "email": "sara@acme.example"})
    gone = app.client.post(f"/_sandbox/portals/{app.portal_id}/owners", json={
        "firstName": "Ola", "lastName": "Old", "email": "ola@acme.example", "archived": True})
    assert (added.status_code, gone.status_code) == (201, 201)

    owner = get(app, f"/crm/owners/2026-03/{added.json()['id']}").json()
    assert (owner["firstName"], owner["lastName"], owner["type"]) == ("Sara", "Säljare", "PERSON")
    assert get(app, f"/crm/owners/2026-03/{gone.json()['id']}").status_code == 404
    archived = get(app, f"/crm/owners/2026-03/{gone.json()['id']}", archived="true").json()
    assert archived["archived"] is True and "userId" not in archived
    assert "userIdIncludingInactive" in archived


@pytest.mark.parametrize(("path", "params", "status"), [
    ("/crm/owners/2026-03/404404", {}, 404),
    ("/crm/owners/2026-03/abc", {}, 400),
    ("/crm/owners/2026-03/1", {"idProperty": "email"}, 400),
])
def test_owner_lookups_that_find_nothing_or_ask_wrongly_get_hubspots_errors(app, path, params, status):
    assert get(app, path, **params).status_code == status


def test_without_the_optional_scopes_both_apis_answer_403_missing_scopes(app):
    narrow = install(app.sim, scopes="oauth crm.objects.deals.read", client_id="narrow", portal_id=app.portal_id)
    owner = dump(app)["owners"][0]

    for path, scope in ((RATES, "tax_rates.read"), (f"/crm/owners/2026-03/{owner['id']}", "crm.objects.owners.read")):
        refused = narrow.call("GET", path)
        assert (refused.status_code, refused.json()["category"]) == (403, "MISSING_SCOPES")
        assert refused.json()["errors"][0]["context"]["requiredGranularScopes"] == [scope]


def test_a_seeded_portal_names_owners_and_tax_rates_by_ref_in_deals_and_line_items(app):
    seeded = app.client.post("/_sandbox/portals", json={
        "taxRates": [{"ref": "food", "name": "Food", "percentageRate": 12}],
        "owners": [{"ref": "sara", "firstName": "Sara", "lastName": "Säljare", "email": "sara@acme.example"}],
        "objects": {
            "deals": [{"ref": "deal", "properties": {"dealname": "Lunch", "hubspot_owner_id": "sara"}}],
            "line_items": [{"ref": "line", "properties": {"name": "Lunch", "price": "100", "quantity": "1",
                                                          "hs_tax_rate_group_id": "food"}}]}})
    assert seeded.status_code == 201, seeded.text
    refs, portal = seeded.json()["refs"], dump(app, seeded.json()["portalId"])

    assert [rate["id"] for rate in portal["taxRates"]] == [refs["food"]]
    assert [owner["id"] for owner in portal["owners"]][-1] == refs["sara"]
    assert portal["objects"]["deals"][0]["properties"]["hubspot_owner_id"] == refs["sara"]
    assert portal["objects"]["line_items"][0]["properties"]["hs_tax_rate_group_id"] == refs["food"]


def test_a_portal_whose_seed_fails_leaves_no_library_or_owners_behind(app):
    failed = app.client.post("/_sandbox/portals", json={"taxRates": [{"name": "Bad", "percentageRate": -1}]})

    assert failed.status_code == 400 and "seeding failed" in failed.text
    assert set(app.sim.tax_rates) == set(app.sim.owners) == set(app.sim.portals)


def test_tax_rate_calls_count_against_the_portals_ten_second_limit():
    app = install(simulator(FakeClock(START), rate_limit=2))

    assert app.call("GET", RATES).headers["X-HubSpot-RateLimit-Remaining"] == "1"
    app.call("GET", RATES)
    assert app.call("GET", RATES).status_code == 429


# -- users ---------------------------------------------------------------------------------------------


def test_a_new_portals_installing_user_is_its_super_admin_and_others_can_be_seeded(app):
    installer = dump(app)["users"][0]
    colleague = app.client.post(f"/_sandbox/portals/{app.portal_id}/users",
                                json={"email": "eva@acme.example", "firstName": "Eva", "superAdmin": True})
    seller = app.client.post(f"/_sandbox/portals/{app.portal_id}/users", json={"email": "sam@acme.example"})
    assert (colleague.status_code, seller.status_code) == (201, 201)

    assert get(app, f"/settings/users/2026-03/{installer['id']}").json()["superAdmin"] is True
    assert get(app, f"/settings/users/2026-03/{colleague.json()['id']}").json()["superAdmin"] is True
    by_email = get(app, "/settings/users/2026-03/SAM@acme.example", idProperty="EMAIL").json()
    assert (by_email["id"], by_email["superAdmin"]) == (seller.json()["id"], False)
    assert get(app, "/settings/users/2026-03/404404").status_code == 404
    assert get(app, "/settings/users/2026-03/1", idProperty="id").status_code == 400


def test_a_portal_seeded_with_users_and_the_user_api_needs_its_scope(app):
    seeded = app.client.post("/_sandbox/portals", json={"users": [
        {"id": 555001, "email": "boss@acme.example", "superAdmin": True}]}).json()
    assert [u["id"] for u in dump(app, seeded["portalId"])["users"]][1:] == ["555001"]

    narrow = install(app.sim, scopes="oauth", client_id="narrow", portal_id=app.portal_id)
    refused = narrow.call("GET", f"/settings/users/2026-03/{dump(app)['users'][0]['id']}")
    assert (refused.status_code, refused.json()["category"]) == (403, "MISSING_SCOPES")

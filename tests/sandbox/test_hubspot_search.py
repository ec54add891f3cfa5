"""CRM search with HubSpot's semantics: AND inside a filter group, OR across groups, the
documented operators, association filters, one sort, `after` paging and the request limits."""

from __future__ import annotations

import pytest

from tests.sandbox.test_hubspot_support import START, FakeClock, association, install, simulator


@pytest.fixture
def clock():
    return FakeClock(START)


@pytest.fixture
def app(clock):
    return install(simulator(clock))


@pytest.fixture
def deals(app, clock):
    """Four deals a minute apart: Alpha (won, 100), Beta (won, 250), Gamma (lost, 40), Delta (no amount)."""
    made = {}
    for name, stage, amount in (("Alpha Widgets", "closedwon", "100"), ("Beta Gadgets", "closedwon", "250"),
                                ("Gamma Widgets", "closedlost", "40"), ("Delta", "contractsent", None)):
        properties = {"dealname": name, "dealstage": stage}
        if amount:
            properties["amount"] = amount
        made[name.split()[0]] = app.create("deals", properties)["id"]
        clock.advance(60)
    return made


def search(app, filters=None, groups=None, **body):
    request = {"filterGroups": groups if groups is not None else ([{"filters": filters}] if filters else []),
               "sorts": [], "properties": ["dealname"], "limit": 100, "after": "0", **body}
    return app.call("POST", "/crm/objects/2026-03/0-3/search", json=request)


def names(response):
    assert response.status_code == 200, response.text
    return [r["properties"]["dealname"].split()[0] for r in response.json()["results"]]


def f(name, operator, value=None, **extra):
    spec = {"propertyName": name, "operator": operator, **extra}
    if value is not None:
        spec["value"] = value
    return spec


@pytest.mark.parametrize(("filters", "expected"), [
    ([f("dealstage", "EQ", "closedwon")], ["Alpha", "Beta"]),
    ([f("dealstage", "NEQ", "closedwon")], ["Gamma", "Delta"]),
    ([f("amount", "GT", "100")], ["Beta"]),
    ([f("amount", "GTE", "100")], ["Alpha", "Beta"]),
    ([f("amount", "LT", "100")], ["Gamma"]),
    ([f("amount", "LTE", "100")], ["Alpha", "Gamma"]),
    ([f("amount", "BETWEEN", "50", highValue="250")], ["Alpha", "Beta"]),
    ([f("dealstage", "IN", values=["closedlost", "contractsent"])], ["Gamma", "Delta"]),
    ([f("dealstage", "NOT_IN", values=["closedwon"])], ["Gamma", "Delta"]),
    ([f("amount", "HAS_PROPERTY")], ["Alpha", "Beta", "Gamma"]),
    ([f("amount", "NOT_HAS_PROPERTY")], ["Delta"]),
    ([f("dealname", "CONTAINS_TOKEN", "widgets")], ["Alpha", "Gamma"]),
    ([f("dealname", "CONTAINS_TOKEN", "gad*")], ["Beta"]),
    ([f("dealname", "NOT_CONTAINS_TOKEN", "widgets")], ["Beta", "Delta"]),
    ([f("dealstage", "EQ", "closedwon"), f("amount", "GT", "150")], ["Beta"]),
])
def test_operators_and_filters_within_a_group(app, deals, filters, expected):
    assert names(search(app, filters)) == expected


def test_groups_are_ored(app, deals):
    groups = [{"filters": [f("amount", "GT", "200")]}, {"filters": [f("dealstage", "EQ", "closedlost")]}]
    assert names(search(app, groups=groups)) == ["Beta", "Gamma"]


def test_string_in_values_must_be_lower_case(app, deals):
    assert names(search(app, [f("dealname", "IN", values=["delta"])])) == ["Delta"]
    assert names(search(app, [f("dealname", "IN", values=["Delta"])])) == []


def test_enumeration_values_are_case_sensitive(app, deals):
    assert names(search(app, [f("dealstage", "EQ", "CLOSEDWON")])) == []


def test_dates_compare_by_epoch_milliseconds(app, deals):
    after_second = str((1772438400 + 90) * 1000)
    assert names(search(app, [f("createdate", "GTE", after_second)])) == ["Gamma", "Delta"]


def test_one_sort_orders_the_results(app, deals):
    body = {"sorts": [{"propertyName": "amount", "direction": "DESCENDING"}]}
    assert names(search(app, **body)) == ["Beta", "Alpha", "Gamma", "Delta"]  # no value: last
    assert names(search(app, sorts=["amount"])) == ["Gamma", "Alpha", "Beta", "Delta"]


def test_a_query_matches_the_default_searchable_text(app, deals):
    assert names(search(app, query="gadg")) == ["Beta"]


def test_association_filters_find_deals_of_a_company(app, deals):
    company = app.create("companies", {"name": "Acme"})
    app.create("deals", {"dealname": "Linked"}, [association(company["id"], 341)])
    assert names(search(app, [f("associations.company", "EQ", company["id"])])) == ["Linked"]


def test_results_carry_the_asked_for_and_the_always_returned_properties(app, deals):
    result = search(app).json()["results"][0]
    assert set(result["properties"]) == {"dealname", "hs_object_id", "createdate", "hs_lastmodifieddate"}


def test_paging_with_after_until_no_paging_is_left(app, deals):
    first = search(app, limit=3).json()
    assert first["total"] == 4
    assert first["paging"]["next"]["after"] == "3"
    rest = search(app, limit=3, after="3").json()
    assert [r["properties"]["dealname"] for r in rest["results"]] == ["Delta"]
    assert "paging" not in rest


def test_archived_records_are_not_found(app, deals):
    app.call("DELETE", f"/crm/objects/2026-03/deals/{deals['Alpha']}")
    assert "Alpha" not in names(search(app))


def test_other_object_types_are_searched_on_their_own_paths(app):
    app.create("products", {"name": "Widget", "hs_sku": "W-1"})
    response = app.call("POST", "/crm/objects/2026-03/products/search", json={
        "filterGroups": [{"filters": [f("hs_sku", "EQ", "w-1")]}], "sorts": [], "properties": ["name"],
        "limit": 10, "after": "0"})
    assert [r["properties"]["name"] for r in response.json()["results"]] == ["Widget"]


@pytest.mark.parametrize(("body", "fragment"), [
    ({"groups": [{"filters": [f("amount", "HAS_PROPERTY")]}] * 6}, "filter groups"),
    ({"filters": [f("amount", "HAS_PROPERTY")] * 7}, "filter group 0"),
    ({"groups": [{"filters": [f("amount", "HAS_PROPERTY")] * 6}] * 3 + [{"filters": [f("amount", "HAS_PROPERTY")]}]},
     "across all groups"),
    ({"limit": 201}, "limit"),
    ({"after": "9950", "limit": 100}, "10000"),
    ({"sorts": ["amount", "dealname"]}, "sort"),
    ({"filters": [f("no_such_property", "EQ", "1")]}, "no_such_property"),
    ({"filters": [f("amount", "EQ")]}, "needs a value"),
    ({"filters": [f("amount", "BETWEEN", "1")]}, "highValue"),
    ({"filters": [f("amount", "IN")]}, "values"),
    ({"filters": [f("amount", "LIKE", "1")]}, "operator"),
    ({"query": "x" * 3000}, "3000"),
])
def test_requests_beyond_the_limits_are_rejected(app, body, fragment):
    response = search(app, **body)
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert fragment in response.json()["message"]


def test_search_allows_five_requests_a_second_and_answers_429_without_rate_headers(app, deals, clock):
    for _ in range(5):
        assert search(app).status_code == 200
    limited = search(app)
    assert limited.status_code == 429
    assert limited.json()["policyName"] == "SECONDLY"
    assert "X-HubSpot-RateLimit-Remaining" not in limited.headers
    clock.advance(1.0)
    assert search(app).status_code == 200


def test_searches_do_not_count_against_the_ten_second_limit(app, deals):
    before = int(app.call("GET", "/crm/objects/2026-03/deals").headers["X-HubSpot-RateLimit-Remaining"])
    search(app)
    after = int(app.call("GET", "/crm/objects/2026-03/deals").headers["X-HubSpot-RateLimit-Remaining"])
    assert after == before - 1

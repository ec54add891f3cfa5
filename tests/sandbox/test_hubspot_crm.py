"""CRM records as HubSpot keeps them: string values, maintained system properties, HubSpot's
validation errors, batch reads with 207, line-item money, associations, pipelines and properties."""

from __future__ import annotations

import pytest

from tests.sandbox.test_hubspot_support import START, FakeClock, association, install, simulator


@pytest.fixture
def clock():
    return FakeClock(START)


@pytest.fixture
def app(clock):
    return install(simulator(clock))


def test_a_created_deal_reads_back_by_0_3_and_by_deals(app):
    deal = app.create("0-3", {"dealname": "Widgets", "amount": 1500, "closedate": "2026-04-01"})
    for path in (f"/crm/objects/2026-03/0-3/{deal['id']}", f"/crm/objects/2026-03/deals/{deal['id']}"):
        body = app.call("GET", path, params={"properties": "dealname,amount,closedate"}).json()
        assert body["properties"]["dealname"] == "Widgets"
        assert body["properties"]["amount"] == "1500"  # values are always strings
        assert body["properties"]["closedate"] == "2026-04-01T00:00:00.000Z"


def test_ids_are_numeric_strings_and_system_properties_are_maintained(app, clock):
    deal = app.create("deals", {"dealname": "A"})
    assert deal["id"].isdigit()
    assert deal["properties"]["hs_object_id"] == deal["id"]
    assert deal["properties"]["createdate"] == deal["createdAt"] == "2026-03-02T08:00:00.000Z"
    clock.advance(60)
    updated = app.call("PATCH", f"/crm/objects/2026-03/deals/{deal['id']}", json={"properties": {"amount": "5"}})
    assert updated.json()["properties"]["hs_lastmodifieddate"] == "2026-03-02T08:01:00.000Z"
    assert updated.json()["updatedAt"] == "2026-03-02T08:01:00.000Z"
    assert updated.json()["properties"]["createdate"] == "2026-03-02T08:00:00.000Z"


def test_a_new_deal_lands_in_the_default_pipeline_in_the_portal_currency(app):
    deal = app.create("deals", {"dealname": "A"})
    assert deal["properties"]["pipeline"] == "default"
    assert deal["properties"]["dealstage"] == "appointmentscheduled"
    assert deal["properties"]["deal_currency_code"] == "SEK"


def test_a_read_without_properties_returns_the_defaults_with_nulls(app):
    deal = app.create("deals", {"dealname": "A"})
    props = app.call("GET", f"/crm/objects/2026-03/deals/{deal['id']}").json()["properties"]
    assert set(props) == {"dealname", "amount", "closedate", "pipeline", "dealstage", "createdate",
                          "hs_lastmodifieddate", "hs_object_id"}
    assert props["amount"] is None


def test_asked_for_properties_come_back_empty_as_null_and_unknown_ones_are_left_out(app):
    deal = app.create("deals", {"dealname": "A"})
    props = app.call("GET", f"/crm/objects/2026-03/deals/{deal['id']}",
                     params={"properties": "description,no_such_property"}).json()["properties"]
    assert props["description"] is None
    assert "no_such_property" not in props
    assert {"hs_object_id", "createdate", "hs_lastmodifieddate"} <= set(props)


def test_writing_an_unknown_property_is_a_validation_error_like_hubspots(app):
    response = app.call("POST", "/crm/objects/2026-03/deals",
                        json={"properties": {"dealname": "A", "fortnox_number": "1"}, "associations": []})
    assert response.status_code == 400
    body = response.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert "PROPERTY_DOESNT_EXIST" in body["message"]
    assert body["errors"][0] == {"message": 'Property "fortnox_number" does not exist',
                                 "code": "PROPERTY_DOESNT_EXIST", "context": {"propertyName": ["fortnox_number"]}}


@pytest.mark.parametrize(("properties", "code"), [
    ({"amount": "lots"}, "INVALID_INTEGER"),
    ({"dealstage": "nosuchstage"}, "INVALID_OPTION"),
    ({"deal_currency_code": "JPY"}, "INVALID_OPTION"),
    ({"closedate": "next tuesday"}, "INVALID_DATE"),
    ({"hs_lastmodifieddate": "2026-01-01"}, "READ_ONLY_VALUE"),
])
def test_invalid_values_are_rejected_with_hubspots_codes(app, properties, code):
    response = app.call("POST", "/crm/objects/2026-03/deals",
                        json={"properties": {"dealname": "A", **properties}, "associations": []})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == code


def test_a_missing_record_is_a_404_in_hubspots_shape(app):
    response = app.call("GET", "/crm/objects/2026-03/deals/99999")
    assert response.status_code == 404
    assert response.json()["category"] == "OBJECT_NOT_FOUND"


def test_an_unknown_object_type_is_a_validation_error(app):
    assert app.call("GET", "/crm/objects/2026-03/widgets/1").status_code == 400


def test_archived_records_404_unless_archived_is_asked_for(app):
    deal = app.create("deals", {"dealname": "A"})
    assert app.call("DELETE", f"/crm/objects/2026-03/deals/{deal['id']}").status_code == 204
    assert app.call("GET", f"/crm/objects/2026-03/deals/{deal['id']}").status_code == 404
    archived = app.call("GET", f"/crm/objects/2026-03/deals/{deal['id']}", params={"archived": "true"}).json()
    assert archived["archived"] is True
    assert archived["archivedAt"]


def test_archiving_is_idempotent_like_hubspots(app):
    assert app.call("DELETE", "/crm/objects/2026-03/deals/12345").status_code == 204


def test_reading_by_a_unique_property(app):
    app.call("POST", "/crm/properties/2026-03/deals", json={
        "groupName": "dealinformation", "name": "external_ref", "label": "Ref", "type": "string",
        "fieldType": "text", "hasUniqueValue": True})
    deal = app.create("deals", {"dealname": "A", "external_ref": "X-1"})
    body = app.call("GET", "/crm/objects/2026-03/deals/X-1", params={"idProperty": "external_ref"}).json()
    assert body["id"] == deal["id"]
    duplicate = app.call("POST", "/crm/objects/2026-03/deals",
                         json={"properties": {"dealname": "B", "external_ref": "X-1"}, "associations": []})
    assert duplicate.status_code == 409


def test_listing_pages_with_after(app):
    ids = [app.create("companies", {"name": f"C{i}"})["id"] for i in range(3)]
    first = app.call("GET", "/crm/objects/2026-03/companies", params={"limit": 2}).json()
    assert [r["id"] for r in first["results"]] == ids[:2]
    after = first["paging"]["next"]["after"]
    second = app.call("GET", "/crm/objects/2026-03/companies", params={"limit": 2, "after": after}).json()
    assert [r["id"] for r in second["results"]] == ids[2:]
    assert "paging" not in second


def test_property_history_is_kept_newest_first(app, clock):
    deal = app.create("deals", {"dealname": "A", "amount": "1"})
    clock.advance(5)
    app.call("PATCH", f"/crm/objects/2026-03/deals/{deal['id']}", json={"properties": {"amount": "2"}})
    body = app.call("GET", f"/crm/objects/2026-03/deals/{deal['id']}",
                    params={"propertiesWithHistory": "amount"}).json()
    assert [h["value"] for h in body["propertiesWithHistory"]["amount"]] == ["2", "1"]


# -- batch read --------------------------------------------------------------------------------------


def test_batch_read_returns_the_asked_for_properties(app):
    ids = [app.create("line_items", {"name": f"L{i}", "price": "10", "quantity": "2"})["id"] for i in range(2)]
    response = app.call("POST", "/crm/objects/2026-03/line_items/batch/read", json={
        "properties": ["name", "amount"], "propertiesWithHistory": [], "inputs": [{"id": i} for i in ids]})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "COMPLETE"
    assert [r["properties"]["amount"] for r in body["results"]] == ["20.00", "20.00"]


def test_batch_read_with_missing_ids_answers_207_with_errors(app):
    found = app.create("companies", {"name": "Acme"})["id"]
    response = app.call("POST", "/crm/objects/2026-03/companies/batch/read", json={
        "properties": ["name"], "propertiesWithHistory": [], "inputs": [{"id": found}, {"id": "404404"}]})
    assert response.status_code == 207
    body = response.json()
    assert [r["id"] for r in body["results"]] == [found]
    assert body["numErrors"] == 1
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert body["errors"][0]["context"] == {"ids": ["404404"]}


def test_batch_read_takes_at_most_100_inputs(app):
    response = app.call("POST", "/crm/objects/2026-03/deals/batch/read", json={
        "properties": [], "propertiesWithHistory": [], "inputs": [{"id": str(i)} for i in range(101)]})
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


# -- line-item money -------------------------------------------------------------------------------


def test_a_percentage_discount_is_rounded_half_up_before_the_net_amount(app):
    item = app.create("line_items", {"name": "Seat", "price": "11.90", "quantity": "1",
                                     "hs_discount_percentage": "15"})["properties"]
    assert item["hs_pre_discount_amount"] == "11.90"
    assert item["hs_total_discount"] == "1.79"
    assert item["amount"] == "10.11"


def test_a_unit_discount_counts_per_unit(app):
    item = app.create("line_items", {"name": "Seat", "price": "100", "quantity": "3", "discount": "2.5"})
    assert item["properties"]["hs_total_discount"] == "7.50"
    assert item["properties"]["amount"] == "292.50"


def test_changing_the_quantity_recomputes_the_amount(app):
    item = app.create("line_items", {"name": "Seat", "price": "10", "quantity": "1"})
    updated = app.call("PATCH", f"/crm/objects/2026-03/line_items/{item['id']}",
                       json={"properties": {"quantity": "4"}}).json()
    assert updated["properties"]["amount"] == "40.00"


def test_the_calculated_amount_cannot_be_written(app):
    response = app.call("POST", "/crm/objects/2026-03/line_items",
                        json={"properties": {"name": "X", "amount": "5"}, "associations": []})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "READ_ONLY_VALUE"


def test_a_line_item_from_a_product_copies_its_name_price_and_sku_unless_given(app):
    product = app.create("products", {"name": "Widget", "price": "250", "hs_sku": "W-1"})
    copied = app.create("line_items", {"hs_product_id": product["id"], "quantity": "2"})["properties"]
    assert (copied["name"], copied["price"], copied["hs_sku"], copied["amount"]) == ("Widget", "250", "W-1", "500.00")
    own = app.create("line_items", {"hs_product_id": product["id"], "quantity": "1", "price": "200"})
    assert own["properties"]["price"] == "200"


def test_a_line_item_of_a_missing_product_is_rejected(app):
    response = app.call("POST", "/crm/objects/2026-03/line_items",
                        json={"properties": {"hs_product_id": "777", "quantity": "1"}, "associations": []})
    assert response.status_code == 400


# -- associations ------------------------------------------------------------------------------------


@pytest.fixture
def deal_with_lines(app):
    company = app.create("companies", {"name": "Acme AB"})
    deal = app.create("deals", {"dealname": "Big"}, [association(company["id"], 5)])
    lines = [app.create("line_items", {"name": f"L{i}", "price": "1", "quantity": "1"},
                        [association(deal["id"], 20)]) for i in range(2)]
    return deal, company, lines


def test_reading_a_deal_with_associations_lists_them_under_hubspots_keys(app, deal_with_lines):
    deal, company, lines = deal_with_lines
    body = app.call("GET", f"/crm/objects/2026-03/0-3/{deal['id']}",
                    params={"associations": "line_items,companies,contacts"}).json()
    assert body["associations"]["line items"]["results"] == [
        {"id": line["id"], "type": "deal_to_line_item"} for line in lines]
    assert {(r["id"], r["type"]) for r in body["associations"]["companies"]["results"]} == {
        (company["id"], "deal_to_company"), (company["id"], "deal_to_company_unlabeled")}
    assert "contacts" not in body["associations"]  # no contacts: no key


def test_the_per_record_associations_list_types_with_labels(app, deal_with_lines):
    deal, company, _ = deal_with_lines
    body = app.call("GET", f"/crm/objects/2026-03/deals/{deal['id']}/associations/companies").json()
    assert body["results"] == [{"toObjectId": company["id"], "associationTypes": [
        {"category": "HUBSPOT_DEFINED", "typeId": 5, "label": "Primary"},
        {"category": "HUBSPOT_DEFINED", "typeId": 341}]}]


def test_associations_go_both_ways(app, deal_with_lines):
    deal, _, lines = deal_with_lines
    body = app.call("GET", f"/crm/objects/2026-03/line_items/{lines[0]['id']}/associations/deals").json()
    assert body["results"] == [{"toObjectId": deal["id"],
                                "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 20}]}]


def test_the_labelled_put_creates_an_association(app):
    deal, contact = app.create("deals", {"dealname": "A"}), app.create("contacts", {"email": "a@b.se"})
    response = app.call("PUT", f"/crm/objects/2026-03/deals/{deal['id']}/associations/contacts/{contact['id']}",
                        json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}])
    assert response.status_code == 201
    assert response.json()["fromObjectTypeId"] == "0-3"
    assert response.json()["toObjectTypeId"] == "0-1"


def test_deals_and_contacts_have_no_hubspot_defined_primary_but_a_portal_may_define_a_primary_label(app):
    deal, first, second = (app.create("deals", {"dealname": "A"}), app.create("contacts", {"email": "a@b.se"}),
                           app.create("contacts", {"email": "c@d.se"}))
    refused = app.call("PUT", f"/crm/objects/2026-03/deals/{deal['id']}/associations/contacts/{first['id']}",
                       json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}])
    assert refused.status_code == 400
    label = app.client.post(f"/_sandbox/portals/{app.portal_id}/association-labels",
                            json={"fromObjectType": "deals", "toObjectType": "contacts", "label": "Primary"}).json()
    assert label["category"] == "USER_DEFINED" and label["label"] == "Primary"
    for contact, types in ((first, [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]),
                           (second, [{"associationCategory": "USER_DEFINED", "associationTypeId": label["typeId"]}])):
        response = app.call("PUT", f"/crm/objects/2026-03/deals/{deal['id']}/associations/contacts/{contact['id']}",
                            json=types)
        assert response.status_code == 201, response.text
    body = app.call("GET", f"/crm/objects/2026-03/deals/{deal['id']}/associations/contacts").json()
    assert body["results"] == [
        {"toObjectId": first["id"], "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 3}]},
        {"toObjectId": second["id"], "associationTypes": [
            {"category": "HUBSPOT_DEFINED", "typeId": 3},
            {"category": "USER_DEFINED", "typeId": label["typeId"], "label": "Primary"}]}]
    back = app.call("GET", f"/crm/objects/2026-03/contacts/{second['id']}/associations/deals").json()
    assert back["results"][0]["associationTypes"][1] == {"category": "USER_DEFINED",
                                                         "typeId": label["inverseTypeId"], "label": "Primary"}


def test_a_wrong_association_type_is_rejected(app):
    deal, contact = app.create("deals", {"dealname": "A"}), app.create("contacts", {"email": "a@b.se"})
    response = app.call("PUT", f"/crm/objects/2026-03/deals/{deal['id']}/associations/contacts/{contact['id']}",
                        json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 19}])
    assert response.status_code == 400


def test_the_default_put_creates_the_default_type_both_ways(app):
    deal, item = app.create("deals", {"dealname": "A"}), app.create("line_items", {"name": "L"})
    response = app.call("PUT", f"/crm/objects/2026-03/deals/{deal['id']}/associations/default/line_items/{item['id']}")
    assert response.status_code == 200
    specs = [r["associationSpec"]["associationTypeId"] for r in response.json()["results"]]
    assert specs == [19, 20]


def test_batch_read_of_associations_answers_207_for_records_without_any(app, deal_with_lines):
    deal, _, lines = deal_with_lines
    lonely = app.create("deals", {"dealname": "Alone"})
    response = app.call("POST", "/crm/associations/2026-03/deals/line_items/batch/read",
                        json={"inputs": [{"id": deal["id"]}, {"id": lonely["id"]}]})
    assert response.status_code == 207
    body = response.json()
    assert body["results"][0]["from"] == {"id": deal["id"]}
    assert [t["toObjectId"] for t in body["results"][0]["to"]] == [line["id"] for line in lines]
    assert body["errors"][0]["context"] == {"fromObjectId": [lonely["id"]]}


def test_batch_read_of_associations_takes_at_most_1000_inputs(app):
    response = app.call("POST", "/crm/associations/2026-03/deals/line_items/batch/read",
                        json={"inputs": [{"id": str(i)} for i in range(1001)]})
    assert response.status_code == 400


def test_association_pages_follow_after(app):
    deal = app.create("deals", {"dealname": "A"})
    for i in range(3):
        app.create("line_items", {"name": f"L{i}"}, [association(deal["id"], 20)])
    first = app.call("GET", f"/crm/objects/2026-03/deals/{deal['id']}/associations/line_items",
                     params={"limit": 2}).json()
    assert len(first["results"]) == 2
    rest = app.call("GET", f"/crm/objects/2026-03/deals/{deal['id']}/associations/line_items",
                    params={"limit": 2, "after": first["paging"]["next"]["after"]}).json()
    assert len(rest["results"]) == 1
    assert "paging" not in rest


def test_archiving_a_line_item_removes_it_from_the_deal(app, deal_with_lines):
    deal, _, lines = deal_with_lines
    app.call("DELETE", f"/crm/objects/2026-03/line_items/{lines[0]['id']}")
    body = app.call("GET", f"/crm/objects/2026-03/deals/{deal['id']}/associations/line_items").json()
    assert [r["toObjectId"] for r in body["results"]] == [lines[1]["id"]]


def test_an_association_to_a_missing_record_fails_the_create(app):
    response = app.call("POST", "/crm/objects/2026-03/line_items",
                        json={"properties": {"name": "L"}, "associations": [association("424242", 20)]})
    assert response.status_code == 400
    assert app.call("GET", "/crm/objects/2026-03/line_items").json()["results"] == []


# -- pipelines ---------------------------------------------------------------------------------------


def test_the_default_pipeline_has_hubspots_standard_stages(app):
    pipelines = app.call("GET", "/crm/pipelines/2026-03/deals").json()["results"]
    assert [p["id"] for p in pipelines] == ["default"]
    stages = app.call("GET", "/crm/pipelines/2026-03/deals/default/stages").json()["results"]
    assert [s["id"] for s in stages] == ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
                                         "decisionmakerboughtin", "contractsent", "closedwon", "closedlost"]
    assert stages[5]["metadata"] == {"isClosed": "true", "probability": "1.0"}


def test_a_missing_pipeline_is_a_404(app):
    assert app.call("GET", "/crm/pipelines/2026-03/deals/nope/stages").status_code == 404


# -- properties --------------------------------------------------------------------------------------


def prop(**overrides):
    return {"groupName": "dealinformation", "name": "fortnox_invoice_number", "label": "Fortnox invoice number",
            "type": "string", "fieldType": "text", **overrides}


def test_creating_a_property_answers_201_and_it_can_be_written(app):
    response = app.call("POST", "/crm/properties/2026-03/deals", json=prop())
    assert response.status_code == 201
    assert response.json()["hubspotDefined"] is False
    deal = app.create("deals", {"dealname": "A", "fortnox_invoice_number": "1001"})
    assert deal["properties"]["fortnox_invoice_number"] == "1001"


def test_creating_a_property_twice_is_a_409(app):
    app.call("POST", "/crm/properties/2026-03/deals", json=prop())
    response = app.call("POST", "/crm/properties/2026-03/deals", json=prop())
    assert response.status_code == 409
    assert response.json()["category"] == "OBJECT_ALREADY_EXISTS"


@pytest.mark.parametrize("overrides", [
    {"type": "string", "fieldType": "number"},
    {"type": "number", "fieldType": "text"},
    {"type": "enumeration", "fieldType": "select"},
    {"type": "enumeration", "fieldType": "select", "options": [{"label": "A", "value": "a"},
                                                               {"label": "B", "value": "a"}]},
    {"groupName": "nosuchgroup"},
    {"name": "Has Spaces"},
    {"name": "hs_reserved"},
    {"label": ""},
])
def test_invalid_property_definitions_are_rejected(app, overrides):
    response = app.call("POST", "/crm/properties/2026-03/deals", json=prop(**overrides))
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


def test_an_enumeration_with_options_accepts_only_its_values(app):
    options = [{"label": "Invoice", "value": "invoice", "displayOrder": 0, "hidden": False},
               {"label": "Order", "value": "order", "displayOrder": 1, "hidden": False}]
    created = app.call("POST", "/crm/properties/2026-03/deals",
                       json=prop(name="fortnox_mode", type="enumeration", fieldType="select", options=options))
    assert created.status_code == 201
    assert app.create("deals", {"dealname": "A", "fortnox_mode": "order"})
    wrong = app.call("POST", "/crm/objects/2026-03/deals",
                     json={"properties": {"fortnox_mode": "ORDER"}, "associations": []})
    assert wrong.json()["errors"][0]["code"] == "INVALID_OPTION"


def test_property_groups_can_be_listed_and_created(app):
    names = [g["name"] for g in app.call("GET", "/crm/properties/2026-03/deals/groups").json()["results"]]
    assert "dealinformation" in names
    created = app.call("POST", "/crm/properties/2026-03/deals/groups", json={"name": "fortnox", "label": "Fortnox"})
    assert created.status_code == 201
    assert app.call("POST", "/crm/properties/2026-03/deals", json=prop(groupName="fortnox")).status_code == 201


def test_the_standard_line_item_properties_hubnox_reads_exist(app):
    names = {p["name"] for p in app.call("GET", "/crm/properties/2026-03/line_items").json()["results"]}
    assert {"name", "quantity", "price", "amount", "hs_sku", "hs_product_id", "discount", "hs_discount_percentage",
            "hs_tax_rate_group_id", "description", "hs_line_item_currency_code"} <= names


def test_a_missing_property_is_a_404(app):
    assert app.call("GET", "/crm/properties/2026-03/deals/nope").status_code == 404


# -- notes -------------------------------------------------------------------------------------------


def test_a_note_needs_hs_timestamp(app):
    response = app.call("POST", "/crm/objects/2026-03/notes",
                        json={"properties": {"hs_note_body": "hello"}, "associations": []})
    assert response.status_code == 400
    assert response.json()["errors"][0]["context"] == {"propertyName": ["hs_timestamp"]}


def test_a_note_body_is_at_most_65536_characters(app):
    response = app.call("POST", "/crm/objects/2026-03/notes", json={
        "properties": {"hs_timestamp": "2026-09-01T10:00:00Z", "hs_note_body": "x" * 65_537}, "associations": []})
    assert response.status_code == 400


def test_a_note_with_an_attachment_is_associated_to_the_deal(app):
    deal = app.create("deals", {"dealname": "A"})
    upload = app.call("POST", "/files/2026-03/files", files={"file": ("invoice-1.pdf", b"%PDF-1.7", "application/pdf")},
                      data={"options": '{"access":"PRIVATE"}', "folderPath": "/fortnox"})
    file_id = upload.json()["id"]
    note = app.create("notes", {"hs_timestamp": "1788220800000", "hs_note_body": "<p>Invoice <strong>1</strong></p>",
                                "hs_attachment_ids": file_id}, [association(deal["id"], 214)])
    assert note["properties"]["hs_timestamp"] == "2026-09-01T00:00:00.000Z"
    body = app.call("GET", f"/crm/objects/2026-03/deals/{deal['id']}", params={"associations": "notes"}).json()
    assert body["associations"]["notes"]["results"] == [{"id": note["id"], "type": "deal_to_note"}]


def test_a_note_attaching_a_missing_file_is_rejected(app):
    response = app.call("POST", "/crm/objects/2026-03/notes", json={
        "properties": {"hs_timestamp": "2026-09-01T10:00:00Z", "hs_attachment_ids": "123;456"}, "associations": []})
    assert response.status_code == 400


# -- seeding -------------------------------------------------------------------------------------------


def test_a_portal_can_be_seeded_with_refs_and_dumped(app):
    seeded = app.client.post("/_sandbox/portals", json={
        "additionalCurrencies": ["EUR"],
        "objects": {
            "companies": [{"ref": "acme", "properties": {"name": "Acme AB"}}],
            "products": [{"ref": "widget", "properties": {"name": "Widget", "price": "100", "hs_sku": "W"}}],
            "deals": [{"ref": "deal", "properties": {"dealname": "D", "deal_currency_code": "EUR"},
                       "associations": [{"to": "acme", "typeId": 5}]}],
            "line_items": [{"properties": {"hs_product_id": "widget", "quantity": "2"},
                            "associations": [{"to": "deal"}]}],
        }})
    assert seeded.status_code == 201
    refs = seeded.json()["refs"]
    dump = app.client.get(f"/_sandbox/portals/{seeded.json()['portalId']}").json()
    deal = dump["objects"]["deals"][0]
    assert deal["id"] == refs["deal"]
    assert deal["associations"]["companies"]["results"][0]["id"] == refs["acme"]
    line = dump["objects"]["line_items"][0]["properties"]
    assert (line["hs_product_id"], line["hs_sku"], line["amount"]) == (refs["widget"], "W", "200.00")


def test_seeding_with_invalid_data_creates_no_portal(app):
    before = set(app.sim.portals)
    response = app.client.post("/_sandbox/portals", json={"objects": {"deals": [{"properties": {"nope": "1"}}]}})
    assert response.status_code == 400
    assert "PROPERTY_DOESNT_EXIST" in response.json()["message"]
    assert set(app.sim.portals) == before


# -- fault injection -----------------------------------------------------------------------------------


def test_injected_faults_answer_in_hubspots_error_shape(app):
    app.client.post("/_sandbox/faults", json={"kind": "status", "status": 502, "path": "/crm/objects/.*"})
    response = app.call("GET", "/crm/objects/2026-03/deals")
    assert response.status_code == 502
    assert set(response.json()) >= {"status", "message", "correlationId", "category"}
    assert app.call("GET", "/crm/objects/2026-03/deals").status_code == 200


def test_an_injected_revocation_answers_hubspots_401(app):
    app.client.post("/_sandbox/faults", json={"kind": "revoke", "path": "/crm/.*"})
    response = app.call("GET", "/crm/objects/2026-03/deals")
    assert response.status_code == 401
    assert response.json()["category"] == "INVALID_AUTHENTICATION"

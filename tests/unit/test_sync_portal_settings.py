"""A portal's settings: sensible defaults, errors that name the field, stored payloads migrated."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from hubnox.errors import BadRequestError
from hubnox.sync.portal_settings import SETTINGS_SCHEMA_VERSION, ArticlePolicy, PortalSettings, migrate, parse_settings


def test_the_defaults_match_on_organisation_number_let_fortnox_number_and_create_articles() -> None:
    settings = PortalSettings()
    assert settings.default_document_type == "invoice"
    assert (settings.company_match.hubspot_property, settings.company_match.fortnox_field) == (
        "organisation_number", "OrganisationNumber")
    assert settings.contact_match is not None and settings.contact_match.fortnox_field == "Email"
    assert (settings.customer_number.source, settings.customer_number.write_back_property) == (
        "fortnox", "fortnox_customer_number")
    assert settings.articles.policy is ArticlePolicy.CREATE and settings.articles.defaults.vat == 25
    assert settings.no_line_items == "fail" and settings.update_matched_customers is True
    assert "Name" not in settings.customer_fields.contact


def test_invalid_settings_are_a_bad_request_naming_every_wrong_field() -> None:
    with pytest.raises(BadRequestError) as failure:
        parse_settings({
            "company_match": {"hubspot_property": "Org Nr"},
            "articles": {"policy": "guess", "defaults": {"vat": 24}},
            "customer_fields": {"company": {"Colour": "name"}},
            "customer_defaults": {"currency": "kronor"},
            "typo": True,
        })
    message = failure.value.message
    for field in ("company_match.hubspot_property", "articles.policy", "articles.defaults.vat",
                  "customer_fields.company", "customer_defaults.currency", "typo"):
        assert f"{field}:" in message
    assert failure.value.code == "INVALID_SETTINGS"


def test_customer_numbers_from_hubspot_need_the_property_named() -> None:
    with pytest.raises(BadRequestError, match=r"customer_number: .*hubspot_property"):
        parse_settings({"customer_number": {"source": "hubspot_property"}})
    settings = parse_settings({"customer_number": {"source": "hubspot_property", "hubspot_property": "kundnr"}})
    assert settings.customer_number.hubspot_property == "kundnr"


def test_a_placeholder_article_number_fortnox_would_refuse_is_refused() -> None:
    with pytest.raises(BadRequestError, match=r"articles\.placeholder_article_number"):
        parse_settings({"articles": {"placeholder_article_number": "Övrigt ÅÄÖ"}})


def test_the_same_trigger_stage_twice_is_refused() -> None:
    stage = {"pipeline_id": "default", "stage_id": "closedwon", "document_type": "order"}
    with pytest.raises(BadRequestError, match="trigger_stages"):
        parse_settings({"trigger_stages": [stage, {**stage, "document_type": "invoice"}]})
    assert parse_settings({"trigger_stages": [stage]}).trigger_stages[0].document_type == "order"


def test_settings_round_trip_through_json_and_dynamodb_numbers() -> None:
    settings = parse_settings({"articles": {"policy": "placeholder", "defaults": {"vat": 12, "sales_account": 3002}},
                               "deal_fields": {"your_order_number": "po_number"}})
    stored = json.loads(settings.model_dump_json())
    stored["articles"]["defaults"]["vat"] = Decimal("12")  # DynamoDB gives numbers back as Decimal
    stored["articles"]["defaults"]["sales_account"] = Decimal("3002")
    assert migrate(stored) == settings


def test_nothing_stored_yet_means_the_defaults_and_an_unversioned_payload_is_version_one() -> None:
    assert migrate(None) == PortalSettings()
    assert migrate({"no_line_items": "placeholder_row"}).no_line_items == "placeholder_row"


def test_settings_saved_by_a_newer_hubnox_are_not_silently_cut() -> None:
    with pytest.raises(BadRequestError) as failure:
        migrate({"schema_version": SETTINGS_SCHEMA_VERSION + 1})
    assert failure.value.code == "SETTINGS_TOO_NEW"


def test_the_settings_say_which_hubspot_properties_to_read() -> None:
    settings = parse_settings({
        "deal_fields": {"your_order_number": "po_number", "remarks": "invoice_text"},
        "customer_number": {"source": "hubspot_property", "hubspot_property": "kundnr"},
        "customer_fields": {"contact": {"Name": "full_name"}},
    })
    wanted = settings.hubspot_properties()
    assert wanted["deal"] == ["po_number", "invoice_text"]
    assert "organisation_number" in wanted["company"] and "kundnr" in wanted["company"]
    assert wanted["contact"] == ["full_name", "email", "fortnox_customer_number", "kundnr"]


def test_a_boolean_or_number_written_as_text_is_refused_by_its_field():
    for payload, field in (({"update_matched_customers": "yes"}, "update_matched_customers"),
                           ({"articles": {"defaults": {"vat": "25"}}}, "articles.defaults.vat")):
        with pytest.raises(BadRequestError) as refused:
            parse_settings(payload)
        assert field in refused.value.message


def test_version_one_settings_with_the_old_fail_default_now_create_customers_without_the_match_value() -> None:
    old = {"schema_version": 1, "company_match": {"hubspot_property": "org_nr", "when_value_missing": "fail"},
           "contact_match": {"hubspot_property": "email", "fortnox_field": "Email"}}
    migrated = migrate(old)
    assert migrated.schema_version == SETTINGS_SCHEMA_VERSION == 2
    assert (migrated.company_match.hubspot_property, migrated.company_match.when_value_missing) == ("org_nr", "create")
    assert migrated.contact_match is not None and migrated.contact_match.when_value_missing == "create"
    assert migrate({"schema_version": 1, "company_match": {"when_value_missing": "create"}}) == PortalSettings()
    assert PortalSettings().company_match.when_value_missing == "create"

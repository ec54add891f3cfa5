"""The settings export document, without HTTP: what an import changes, path by path, and which of the
settings' pipeline, stage and property names a portal lacks."""

from __future__ import annotations

import pytest

from hubnox.sync.portal_settings import SETTINGS_SCHEMA_VERSION, PortalSettings, parse_settings
from hubnox.sync.settings_document import (
    Change,
    HubSpotPortal,
    SettingsDocumentError,
    export_document,
    export_filename,
    hubspot_problems,
    read_document,
    settings_changes,
)

#: a portal with the default pipeline and HubSpot's and hubnox's usual properties
PORTAL = HubSpotPortal(
    pipelines={"default": ("Sales Pipeline", {"appointmentscheduled", "closedwon"})},
    properties={"deals": {"description", "dealname"},
                "companies": {"name", "organisation_number", "address", "address2", "zip", "city", "country",
                              "phone", "domain", "fortnox_customer_number"},
                "contacts": {"email", "phone", "address", "zip", "city", "country", "fortnox_customer_number"}},
)


def test_an_export_reads_back_as_the_same_settings():
    settings = parse_settings({"default_document_type": "order", "trigger_stages": [
        {"pipeline_id": "default", "stage_id": "closedwon"}]})

    document = export_document(settings, "42", 0.0)
    imported = read_document(document)

    assert (imported.settings, imported.schema_version, imported.migrated) == (settings, SETTINGS_SCHEMA_VERSION, False)
    assert (imported.portal_id, imported.exported_at) == ("42", "1970-01-01T00:00:00+00:00")
    assert export_filename("42", 0.0) == "hubnox-settings-42-1970-01-01.json"


def test_changes_are_named_by_path_mapping_rows_by_their_fortnox_field_and_stage_lists_whole():
    current = PortalSettings()
    imported = parse_settings({
        "trigger_stages": [{"pipeline_id": "default", "stage_id": "closedwon"}],
        "contact_match": None,
        "customer_fields": {"company": {"Name": "name", "GLN": "gln_number"}},
    })

    changes = {change.field: change for change in settings_changes(current, imported)}

    assert changes["trigger_stages"] == Change("trigger_stages", [], [
        {"pipeline_id": "default", "stage_id": "closedwon", "document_type": "invoice"}])
    assert changes["contact_match"].imported is None and changes["contact_match"].current["hubspot_property"] == "email"
    assert changes["customer_fields.company.GLN"] == Change("customer_fields.company.GLN", None, "gln_number")
    assert changes["customer_fields.company.WWW"] == Change("customer_fields.company.WWW", "domain", None)
    assert "customer_fields.company.Name" not in changes
    assert settings_changes(imported, imported) == []


def test_the_defaults_name_nothing_a_portal_with_hubnox_installed_lacks():
    assert hubspot_problems(PortalSettings(), PORTAL) == []


def test_each_missing_pipeline_stage_and_property_is_reported_once_by_its_setting():
    settings = parse_settings({
        "trigger_stages": [{"pipeline_id": "99", "stage_id": "100"}, {"pipeline_id": "default", "stage_id": "101"}],
        "customer_number": {"write_back_property": "fnx_no"},
        "customer_fields": {"contact": {"Email": "email", "Phone1": "mobile"}},
        "deal_fields": {"remarks": "notes_for_invoice", "your_reference": "description"},
    })

    problems = {problem["field"]: problem for problem in hubspot_problems(settings, PORTAL)}

    assert list(problems) == ["trigger_stages.0.pipeline_id", "trigger_stages.1.stage_id",
                              "customer_number.write_back_property", "customer_fields.contact.Phone1",
                              "deal_fields.remarks"]
    assert "no company or contact property 'fnx_no'" in problems["customer_number.write_back_property"]["message"]
    assert "'Sales Pipeline' of this HubSpot portal has no stage '101'" in problems["trigger_stages.1.stage_id"][
        "message"]
    assert all(problem["fix"] for problem in problems.values())


@pytest.mark.parametrize("document", [None, "x", {"format": "hubnox-settings", "schemaVersion": True, "settings": {}},
                                      {"format": "hubnox-settings", "schemaVersion": 2, "settings": {},
                                       "portalId": 42}])
def test_what_is_not_an_export_raises_with_a_reason(document):
    with pytest.raises(SettingsDocumentError) as refused:
        read_document(document)

    assert refused.value.message and refused.value.errors == []


def test_a_version_1_file_whose_settings_break_its_migration_is_refused_not_a_crash():
    with pytest.raises(SettingsDocumentError) as refused:
        read_document({"format": "hubnox-settings", "schemaVersion": 1, "settings": {"customer_defaults": 7}})

    assert refused.value.code == "INVALID_SETTINGS"

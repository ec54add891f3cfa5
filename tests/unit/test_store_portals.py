"""Deleting a portal's data removes all of it, and nothing of another portal."""

from hubnox.records import RunRequest
from hubnox.store.cursors import CursorStore
from hubnox.store.portal_settings import SettingsStore
from hubnox.store.portals import PortalDataStore
from hubnox.store.runs import RunStore
from hubnox.store.table import portal_partition, registry_key


def test_a_portals_data_goes_and_its_neighbours_stays(table):
    for portal in ("42", "43"):
        SettingsStore(table).put(portal, {"default_document_type": "order"}, expected_version=0)
        request = RunRequest(portal_id=portal, kind="create_document", trigger="workflow", object_type="deal",
                             object_id="901")
        RunStore(table, clock=lambda: 1_800_000_000.0).create(request)
        CursorStore(table).put(portal, "poller", "1800000000000")
        table.put({**registry_key(portal), "portal_id": portal})

    deleted = PortalDataStore(table).delete_portal("42")

    assert deleted >= 3
    assert table.query(portal_partition("42"), consistent=True) == []
    assert table.get(registry_key("42")) is None
    assert SettingsStore(table).get("43")[1] == 1 and table.get(registry_key("43")) is not None

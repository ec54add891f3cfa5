"""The settings page's part of the status sync: the toggle for a timeline line when a deal's
Fortnox document changes state (off unless an admin turns it on, saved like every other option),
and the call to reconnect a Fortnox connection made before hubnox asked for the `payment` scope."""

from __future__ import annotations

from pydantic import SecretStr

from hubnox.records import FortnoxConnection
from hubnox.sync.portal_settings import PortalSettings
from tests.support.functions import SAMPLE_PORTAL
from tests.unit.test_settings_page import answer, request, settings_page
from tests.unit.test_settings_page import world as world

TOGGLE_LABEL = "Add a line to the deal&#39;s timeline when its Fortnox document changes state"


def test_the_timeline_toggle_is_on_the_page_off_by_default_and_saved_like_any_option(world):
    page, parser = settings_page(world)
    assert "status_timeline_notes" in parser.values("data-setting")
    assert TOGGLE_LABEL in page or TOGGLE_LABEL.replace("&#39;", "'") in page
    assert PortalSettings().status_timeline_notes is False

    status, body = answer(request(world, "PUT", "/settings/api/settings",
                                  body={"version": 0, "settings": {"status_timeline_notes": True}}))
    assert (status, body["settings"]["status_timeline_notes"]) == (200, True)
    assert answer(request(world, "GET", "/settings/api/settings"))[1]["settings"]["status_timeline_notes"] is True


def connect(world, scopes: tuple[str, ...]) -> None:
    world.container.connections.put_fortnox(FortnoxConnection(
        portal_id=SAMPLE_PORTAL, tenant_id="1234567", company_name="Exempelbolaget AB",
        auth_mode="authorization_code", access_token=SecretStr("fx-access"),
        access_expires_at=world.clock() + 3600, connected_at=world.clock(), scopes=scopes))


def test_a_connection_without_the_payment_scope_is_asked_to_reconnect(world):
    connect(world, ("customer", "invoice", "order"))
    page, _ = settings_page(world)
    assert "data-reconnect-payments" in page and "Reconnect Fortnox to see payments" in page


def test_a_connection_with_the_payment_scope_is_not(world):
    connect(world, ("customer", "invoice", "order", "payment"))
    page, _ = settings_page(world)
    assert "data-reconnect-payments" not in page

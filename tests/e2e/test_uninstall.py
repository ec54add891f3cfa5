"""An uninstall through the local stack: HubSpot's simulator uninstalls the app, hubnox learns it from
the refused refresh token of the next job, which stops with `HUBSPOT_UNINSTALLED`; the portal leaves
the poller's set, its settings page says what happened, and installing again picks it all up."""

from __future__ import annotations

import pytest

from sandbox.admin import install_hubnox, seeder_token
from tests.support.workflows import Rep, drain, enroll, portal_runs, stored_connections, tick

pytestmark = pytest.mark.e2e


def test_an_uninstalled_portal_stops_and_a_reinstall_picks_it_up(stack, connected_portal):
    portal = connected_portal.portal_id
    rep = Rep(stack, portal, seeder_token(stack.running.hubspot_api_url, portal))
    deal_id = rep.deal()
    uninstalled = stack.hubspot.post(f"/_sandbox/portals/{portal}/uninstall", json={})
    assert uninstalled.status_code == 200, uninstalled.text

    enroll(stack, portal, deal_id)
    drain(stack)

    [run] = portal_runs(stack, portal)
    assert (run.status, run.error_code, run.delivery) == ("failed", "HUBSPOT_UNINSTALLED", "gave_up")
    connections = stored_connections(stack)
    assert connections.hubspot_status(portal) == "uninstalled"
    assert portal not in connections.list_portals()
    assert portal in connections.uninstalled_portals()
    tick(stack)  # the poller asks nothing of the portal: no run is added
    assert len(portal_runs(stack, portal)) == 1
    page = stack.gateway.get("/settings", headers={"Cookie": f"hubnox_session={connected_portal.login_cookie}"})
    assert page.status_code == 401 and "uninstalled from HubSpot portal" in page.text

    assert install_hubnox(connected_portal.browser, stack.running.gateway_url, portal_id=portal) == portal

    connections = stored_connections(stack)
    assert connections.hubspot_status(portal) == "active"
    assert portal in connections.list_portals()
    assert portal not in connections.uninstalled_portals()
    assert connections.get_fortnox(portal).tenant_id == connected_portal.tenant_id
    assert len(portal_runs(stack, portal)) == 1

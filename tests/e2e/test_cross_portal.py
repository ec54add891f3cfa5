"""One portal can never reach another: a user of portal A, whose app card may call hubnox through
`hubspot.fetch` (signed with the same client secret as workflow requests), posts a workflow execution
that names portal B and a deal of B. hubnox refuses it as HubSpot's workflow engine never sends it,
and nothing happens in B: no run, no job, no Fortnox document, no note."""

from __future__ import annotations

import pytest

from tests.support.workflows import Rep, drain, fortnox_invoices, portal_runs

pytestmark = pytest.mark.e2e


@pytest.fixture
def victim(other_portal):
    return other_portal


def card_fetch(stack, portal_id: str, path: str, body: dict | None = None, method: str = "POST") -> dict:
    """What a card user of `portal_id` can make HubSpot send: any URL and body, through hubspot.fetch."""
    answer = stack.hubspot.post("/_sandbox/cards/fetch", json={
        "portalId": int(portal_id), "appId": int(stack.environment["HUBSPOT_APP_ID"]), "method": method,
        "url": f"{stack.running.gateway_url}{path}", "body": body})
    assert answer.status_code == 200, answer.text
    return answer.json()


def forged_execution(portal_id: str, deal_id: str) -> dict:
    return {"callbackId": "ap-forged-1", "origin": {"portalId": int(portal_id), "actionDefinitionId": 1},
            "object": {"objectId": int(deal_id), "objectType": "DEAL"}, "inputFields": {"documentType": "invoice"}}


@pytest.mark.parametrize("route", ["/hubspot/actions/create-document", "/hubspot/actions/sync-customer"])
def test_a_card_fetch_posting_another_portals_execution_is_refused_and_changes_nothing(
        stack, connected_portal, victim, route):
    victim_rep = Rep(stack, victim.portal_id, victim.hubspot_token)
    deal_id = victim_rep.deal(name="Victim AB - licences")

    result = card_fetch(stack, connected_portal.portal_id, route, forged_execution(victim.portal_id, deal_id))
    drain(stack)

    assert result["status"] == 401, result
    assert result["body"]["code"] == "NOT_WORKFLOW_ENGINE"
    assert portal_runs(stack, victim.portal_id) == []
    assert fortnox_invoices(stack, victim.tenant_id, deal_id) == []
    assert victim_rep.notes(deal_id) == []


def test_a_card_fetch_cannot_list_another_portals_print_templates(stack, connected_portal, victim):
    body = {"origin": {"portalId": int(victim.portal_id)}, "inputFieldName": "printTemplate", "inputFields": {},
            "fetchOptions": {"q": ""}}

    result = card_fetch(stack, connected_portal.portal_id, "/hubspot/actions/options", body)

    assert result["status"] == 401, result
    assert "options" not in (result["body"] or {})


def test_a_card_user_cannot_name_another_user_before_hubspots_own_parameters(stack, connected_portal):
    # The card's user writes the start of the query; HubSpot appends portalId, userId, userEmail and appId.
    path = f"/hubspot/card?objectType=deal&objectId=1&portalId={connected_portal.portal_id}&userId=1"

    result = card_fetch(stack, connected_portal.portal_id, path, method="GET")

    assert result["status"] == 401, result
    assert result["body"]["code"] == "REPEATED_IDENTITY"

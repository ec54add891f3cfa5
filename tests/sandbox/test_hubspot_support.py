"""What the HubSpot simulator tests share: a settable clock, an app installed the way HubSpot
installs it (authorize, then exchange the code), and a client that calls the API as that app.

Holds no tests of its own; the test modules build their fixtures from `install`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from sandbox.hubspot import HubSpotSimulator
from tests.support.clock import FakeClock

#: 2026-03-02 09:00 in Stockholm (08:00 UTC), a Monday
START = 1772438400.0
CLIENT_ID = "hubnox-client"
CLIENT_SECRET = "hubnox-secret"
REDIRECT_URI = "https://hubnox.example/oauth/hubspot/callback"
#: What hubnox asks for (reference hubspot.md §8, its optional scopes included), plus the write
#: scopes its tests seed data with.
ALL_SCOPES = (
    "oauth crm.objects.deals.read crm.objects.deals.write crm.objects.line_items.read "
    "crm.objects.line_items.write crm.objects.products.read crm.objects.products.write "
    "crm.objects.companies.read crm.objects.companies.write crm.objects.contacts.read "
    "crm.objects.contacts.write crm.schemas.deals.read crm.schemas.deals.write files automation "
    "tax_rates.read crm.objects.owners.read settings.users.read"
)


def simulator(clock: FakeClock | None = None, **options: Any) -> HubSpotSimulator:
    """A simulator on a fake clock (monotonic and wall clock move together)."""
    clock = clock or FakeClock(START)
    return HubSpotSimulator(clock=clock, wall_clock=clock, **options)


def http(sim: HubSpotSimulator) -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(app=sim), base_url="http://hubspot.test")


def authorize(client: httpx.Client, **overrides: str) -> httpx.Response:
    """GET /oauth/authorize with the parameters hubnox sends, overridable one by one."""
    params = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "scope": ALL_SCOPES, "state": "state-123"}
    params.update(overrides)
    return client.get("/oauth/authorize", params=params)


def redirect_query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def exchange(client: httpx.Client, code: str, **overrides: str) -> httpx.Response:
    form = {"grant_type": "authorization_code", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "redirect_uri": REDIRECT_URI, "code": code}
    form.update(overrides)
    return client.post("/oauth/2026-03/token", data=form)


@dataclass
class Installed:
    """An app installed in a portal, calling the API with its access token."""

    sim: HubSpotSimulator
    client: httpx.Client
    portal_id: int
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)

    def create(self, object_type: str, properties: dict[str, Any],
               associations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Create a record through the API and return its JSON (asserting the 201)."""
        response = self.call("POST", f"/crm/objects/2026-03/{object_type}",
                             json={"properties": properties, "associations": associations or []})
        assert response.status_code == 201, response.text
        return response.json()


def install(sim: HubSpotSimulator, *, scopes: str = ALL_SCOPES, client_id: str = CLIENT_ID,
            secret: str = CLIENT_SECRET, portal_id: int | None = None,
            client: httpx.Client | None = None) -> Installed:
    """Install an app the way HubSpot does: authorize (consenting at once), then exchange the code.
    `client` reaches the simulator (in process unless given, e.g. over HTTP)."""
    client = client or http(sim)
    overrides = {"scope": scopes, "client_id": client_id}
    if portal_id is not None:
        overrides["sandbox_portal"] = str(portal_id)
    code = redirect_query(authorize(client, **overrides))["code"]
    tokens = exchange(client, code, client_id=client_id, client_secret=secret)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    return Installed(sim, client, body["hub_id"], body["access_token"], body["refresh_token"])


def association(to_id: str, type_id: int) -> dict[str, Any]:
    """One entry of a create request's `associations`."""
    return {"to": {"id": to_id}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]}

"""What the Fortnox simulator tests share: a settable clock and a connected API client.

Holds no tests of its own; the test modules build their fixtures from `connect`.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from sandbox.fortnox import FortnoxSimulator
from tests.support.clock import FakeClock

#: 2026-03-02 09:00 in Stockholm (08:00 UTC), a Monday
START = 1772438400.0
REDIRECT_URI = "https://hubnox.example/oauth/fortnox/callback"
ALL_SCOPES = (
    "customer article invoice order price print settings currency companyinformation bookkeeping costcenter project"
)


def simulator(clock: FakeClock | None = None, **options: Any) -> FortnoxSimulator:
    """A simulator on a fake clock (monotonic and wall clock move together)."""
    clock = clock or FakeClock(START)
    return FortnoxSimulator(clock=clock, wall_clock=clock, **options)


def http(sim: FortnoxSimulator) -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(app=sim), base_url="http://fortnox.test")


def basic(client_id: str = "hubnox", secret: str = "s3cret") -> dict[str, str]:
    token = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def authorize(client: httpx.Client, **overrides: str) -> httpx.Response:
    """GET /oauth-v1/auth with the parameters hubnox sends, overridable one by one."""
    params = {
        "client_id": "hubnox",
        "redirect_uri": REDIRECT_URI,
        "scope": ALL_SCOPES,
        "state": "state-123",
        "access_type": "offline",
        "response_type": "code",
        "account_type": "service",
    }
    params.update(overrides)
    return client.get("/oauth-v1/auth", params={k: v for k, v in params.items() if v is not None})


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def exchange(client: httpx.Client, code: str, client_id: str = "hubnox") -> httpx.Response:
    return client.post(
        "/oauth-v1/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        headers=basic(client_id),
    )


@dataclass
class Connected:
    """An API client of one company, authorised the way hubnox connects."""

    sim: FortnoxSimulator
    client: httpx.Client
    tenant_id: int
    token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, headers=self.headers, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.client.post(path, json=body, headers=self.headers, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.client.put(path, json=body, headers=self.headers, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.delete(path, headers=self.headers, **kwargs)

    def created(self, path: str, wrapper: str, fields: dict[str, Any]) -> dict[str, Any]:
        """POST one resource and return it, failing loudly on anything but 201."""
        response = self.post(path, {wrapper: fields})
        assert response.status_code == 201, response.text
        return response.json()[wrapper]

    def customer(self, **fields: Any) -> dict[str, Any]:
        return self.created("/3/customers", "Customer", {"Name": "Acme AB", **fields})

    def article(
        self, number: str, description: str, price: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        article = self.created(
            "/3/articles", "Article", {"ArticleNumber": number, "Description": description, **fields}
        )
        if price is not None:
            self.created("/3/prices", "Price", {"ArticleNumber": number, "PriceList": "A", "Price": price})
        return article

    def invoice(self, customer: str, rows: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
        return self.created(
            "/3/invoices", "Invoice", {"CustomerNumber": customer, "InvoiceRows": rows, **fields}
        )

    def order(self, customer: str, rows: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
        return self.created("/3/orders", "Order", {"CustomerNumber": customer, "OrderRows": rows, **fields})

    def control(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.client.request(method, path, json=body)


def connect(
    sim: FortnoxSimulator | None = None,
    *,
    scope: str = ALL_SCOPES,
    client_id: str = "hubnox",
    **authorize_overrides: str,
) -> Connected:
    """Authorise a fresh company through the real OAuth flow and hold its tokens."""
    sim = sim or simulator()
    client = http(sim)
    params = redirect_params(authorize(client, scope=scope, client_id=client_id, **authorize_overrides))
    tokens = exchange(client, params["code"], client_id)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    claims = jwt_claims(body["access_token"])
    return Connected(sim, client, claims["tenantId"], body["access_token"], body["refresh_token"])


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, decoded without verification as Fortnox advises."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def error_code(response: httpx.Response) -> int:
    """The Fortnox error code of an ErrorInformation answer."""
    return response.json()["ErrorInformation"]["code"]

"""The Fortnox simulator over real HTTP: one server is both the auth host and the API."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox.common import serve
from sandbox.fortnox import FortnoxSimulator
from tests.sandbox.test_fortnox_support import ALL_SCOPES, REDIRECT_URI, basic


@pytest.fixture
def server():
    running = serve(FortnoxSimulator())
    yield running
    running.stop()


def test_connect_create_an_invoice_and_fetch_its_pdf_over_http(server):
    auth_url = api_url = server.url
    with httpx.Client(timeout=5.0) as client:
        consent = client.get(
            f"{auth_url}/oauth-v1/auth",
            params={
                "client_id": "hubnox",
                "redirect_uri": REDIRECT_URI,
                "scope": ALL_SCOPES,
                "state": "xyz",
                "access_type": "offline",
                "response_type": "code",
                "account_type": "service",
            },
        )
        assert consent.status_code == 302
        code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
        tokens = client.post(
            f"{auth_url}/oauth-v1/token",
            headers=basic(),
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        ).json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}

        customer = client.post(
            f"{api_url}/3/customers", headers=bearer, json={"Customer": {"Name": "Acme AB"}}
        )
        invoice = client.post(
            f"{api_url}/3/invoices",
            headers=bearer,
            json={
                "Invoice": {
                    "CustomerNumber": customer.json()["Customer"]["CustomerNumber"],
                    "InvoiceRows": [{"Description": "Konsulttimme", "DeliveredQuantity": "2", "Price": 950}],
                }
            },
        )
        pdf = client.get(f"{api_url}/3/invoices/1/preview", headers=bearer)

    assert invoice.status_code == 201
    assert invoice.json()["Invoice"]["@url"] == f"{api_url}/3/invoices/1"
    assert invoice.json()["Invoice"]["Total"] == 2375
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and pdf.content.rstrip().endswith(b"%%EOF")

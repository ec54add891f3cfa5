"""`python -m sandbox demo`: hubnox's story, told over HTTP against a fresh local stack.

The demo starts `python -m sandbox up` in a subprocess (so the environment steers both the same
way), waits for it, and then acts as a HubSpot admin and rep would: only through HTTP, the
simulators' real OAuth and API paths and the gateway. Each step is a function in `STORY`; a step
prints what happened and raises `DemoFailure` when something is not as it should be. The demo stops
the stack and ends with a line that starts `demo: OK`, or exits non-zero saying what failed.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from sandbox.gateway import REPO_ROOT

HTTP_TIMEOUT = 10.0
STARTUP_TIMEOUT = 60.0

#: The HubSpot app the demo's admin seeds data with: not hubnox, a separate app of the portal's own.
SEEDER_CLIENT_ID = "hubnox-demo-seeder"
SEEDER_SCOPES = (
    "oauth crm.objects.deals.read crm.objects.deals.write crm.objects.line_items.read "
    "crm.objects.line_items.write crm.objects.companies.read crm.objects.companies.write"
)
#: What hubnox asks of a Fortnox company (reference/fortnox.md §2.8).
FORTNOX_SCOPES = "companyinformation customer article invoice order price print settings currency"
#: Swedish VAT on the demo's line items.
VAT_PERCENT = Decimal(25)


class DemoFailure(Exception):
    """A step found something that is not as hubnox's story says."""


@dataclass
class Demo:
    """What the steps share: where the stack is, the app's credentials, and what earlier steps learned."""

    gateway_url: str
    hubspot_api_url: str
    hubspot_auth_url: str
    fortnox_api_url: str
    fortnox_auth_url: str
    environment: Mapping[str, str]
    http: httpx.Client
    output_dir: Path
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def public_base_url(self) -> str:
        return (self.environment.get("PUBLIC_BASE_URL") or self.gateway_url).rstrip("/")

    def call(self, method: str, url: str, *, expect: tuple[int, ...] = (200,),
             **options: Any) -> httpx.Response:
        """One HTTP request; a DemoFailure unless the status is one of `expect`."""
        try:
            response = self.http.request(method, url, **options)
        except httpx.HTTPError as exc:
            raise DemoFailure(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code not in expect:
            raise DemoFailure(f"{method} {url} answered {response.status_code}, expected "
                              f"{' or '.join(map(str, expect))}: {response.text[:500]}")
        return response


Step = Callable[[Demo], list[str]]


def _redirect_params(response: httpx.Response, redirect_uri: str) -> dict[str, str]:
    location = response.headers.get("Location", "")
    if not location.startswith(redirect_uri):
        raise DemoFailure(f"the consent redirected to {location!r}, not to {redirect_uri}")
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    if "error" in params:
        raise DemoFailure(f"the consent was refused: {params['error']}: {params.get('error_description')}")
    return params


# -- the story -----------------------------------------------------------------------------------


def stack_is_up(demo: Demo) -> list[str]:
    health = demo.call("GET", f"{demo.gateway_url}/_sandbox/health").json()
    queues = demo.call("GET", f"{demo.gateway_url}/_sandbox/queues").json()
    for url in (demo.hubspot_api_url, demo.fortnox_api_url):
        demo.call("GET", f"{url}/_sandbox/health")
    return [
        f"gateway {demo.gateway_url} serves {health['routes']} routes",
        f"HubSpot {demo.hubspot_api_url}, Fortnox {demo.fortnox_api_url}, local AWS {health['aws']}",
        f"jobs queue: {queues['jobs']} waiting, dead-letter queue: {queues['dead_letter']}",
    ]


def gateway_answers(demo: Demo) -> list[str]:
    missing = demo.call("GET", f"{demo.gateway_url}/no/such/route", expect=(404,))
    if missing.json() != {"message": "Not Found"}:
        raise DemoFailure(f"an unknown route answered {missing.text!r}, not API Gateway's Not Found")
    card = demo.call("GET", f"{demo.gateway_url}/hubspot/card", params={"portalId": "1"}, expect=(200, 501))
    if "apigw-requestid" not in card.headers or "message" not in card.json():
        raise DemoFailure("GET /hubspot/card did not come from the crm_card function through the gateway")
    return [
        "GET /no/such/route -> 404 Not Found (API Gateway's own answer)",
        f"GET /hubspot/card -> {card.status_code} from the crm_card function: {card.json()['message']}",
    ]


def hubspot_portal_via_oauth(demo: Demo) -> list[str]:
    redirect_uri = f"{demo.public_base_url}/oauth/seeder/callback"
    state = secrets.token_urlsafe(12)
    consent = demo.call("GET", f"{demo.hubspot_auth_url}/oauth/authorize", expect=(302,), params={
        "client_id": SEEDER_CLIENT_ID, "redirect_uri": redirect_uri, "scope": SEEDER_SCOPES, "state": state,
    })
    params = _redirect_params(consent, redirect_uri)
    if params.get("state") != state:
        raise DemoFailure("HubSpot's redirect did not carry the state back")
    token = demo.call("POST", f"{demo.hubspot_api_url}/oauth/2026-03/token", data={
        "grant_type": "authorization_code", "client_id": SEEDER_CLIENT_ID,
        "client_secret": demo.facts.setdefault("seeder_secret", secrets.token_urlsafe(16)),
        "redirect_uri": redirect_uri, "code": params["code"],
    }).json()
    demo.facts["hubspot_token"] = token["access_token"]
    demo.facts["portal_id"] = token["hub_id"]
    account = demo.call("GET", f"{demo.hubspot_api_url}/account-info/2026-03/details",
                        headers=_bearer(token["access_token"])).json()
    return [
        f"an admin consented on {demo.hubspot_auth_url}/oauth/authorize: new portal {token['hub_id']}",
        f"token exchanged at /oauth/2026-03/token: expires in {token['expires_in']} s, "
        f"{len(token['scopes'])} scopes",
        f"portal currency {account.get('companyCurrency')}, time zone {account.get('timeZone')}",
    ]


#: HubSpot-defined association type: line item -> deal (reference/hubspot.md §4.6).
LINE_ITEM_TO_DEAL = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 20}
DEMO_LINE_ITEMS = (
    {"name": "Onboarding workshop", "quantity": "1", "price": "12000.00", "hs_sku": "HNX-ONB"},
    {"name": "hubnox seat, 12 months", "quantity": "5", "price": "1490.50", "hs_sku": "HNX-SEAT"},
)


def deal_with_line_items(demo: Demo) -> list[str]:
    headers = _bearer(demo.facts["hubspot_token"])
    base = f"{demo.hubspot_api_url}/crm/objects/2026-03"
    deal = demo.call("POST", f"{base}/0-3", headers=headers, expect=(201,), json={
        "properties": {"dealname": "Acme AB - hubnox rollout", "pipeline": "default",
                       "dealstage": "appointmentscheduled", "closedate": "2026-12-15",
                       "deal_currency_code": "SEK"},
        "associations": [],
    }).json()
    demo.facts["deal_id"] = deal["id"]
    for item in DEMO_LINE_ITEMS:
        demo.call("POST", f"{base}/line_items", headers=headers, expect=(201,), json={
            "properties": item,
            "associations": [{"to": {"id": deal["id"]}, "types": [LINE_ITEM_TO_DEAL]}],
        })
    read = demo.call("GET", f"{base}/0-3/{deal['id']}", headers=headers,
                     params={"properties": "dealname,dealstage", "associations": "line_items"}).json()
    # HubSpot names the association "line items" in a read, whatever name the request used.
    links = read.get("associations", {})
    links = links.get("line items") or links.get("line_items") or {}
    ids = [link["id"] for link in links.get("results", [])]
    if len(ids) != len(DEMO_LINE_ITEMS):
        raise DemoFailure(f"deal {deal['id']} has {len(ids)} line items, expected {len(DEMO_LINE_ITEMS)}")
    items = demo.call("POST", f"{base}/line_items/batch/read", headers=headers, json={
        "properties": ["name", "quantity", "price", "amount", "hs_sku"], "propertiesWithHistory": [],
        "inputs": [{"id": i} for i in ids],
    }).json()["results"]
    demo.facts["line_items"] = [item["properties"] for item in sorted(items, key=lambda i: int(i["id"]))]
    lines = [f"deal {deal['id']} \"{read['properties']['dealname']}\" with {len(ids)} line items:"]
    lines += [f"  {p['quantity']} x {p['name']} at {p['price']} = {p['amount']} SEK"
              for p in demo.facts["line_items"]]
    return lines


def fortnox_code_flow(demo: Demo) -> list[str]:
    client_id = demo.environment["FORTNOX_CLIENT_ID"]
    redirect_uri = f"{demo.public_base_url}/oauth/fortnox/callback"
    state = secrets.token_urlsafe(12)
    consent = demo.call("GET", f"{demo.fortnox_auth_url}/oauth-v1/auth", expect=(302,), params={
        "client_id": client_id, "redirect_uri": redirect_uri, "scope": FORTNOX_SCOPES, "state": state,
        "access_type": "offline", "response_type": "code", "account_type": "service",
    })
    params = _redirect_params(consent, redirect_uri)
    if params.get("state") != state:
        raise DemoFailure("Fortnox's redirect did not carry the state back")
    token = demo.call("POST", f"{demo.fortnox_auth_url}/oauth-v1/token", auth=_fortnox_client(demo), data={
        "grant_type": "authorization_code", "code": params["code"], "redirect_uri": redirect_uri,
    }).json()
    company = demo.call("GET", f"{demo.fortnox_api_url}/3/companyinformation",
                        headers=_bearer(token["access_token"])).json()["CompanyInformation"]
    demo.facts["tenant_id"] = str(company["DatabaseNumber"])
    return [
        f"a Fortnox administrator consented (service account) on {demo.fortnox_auth_url}/oauth-v1/auth",
        f"code exchanged: access token for {token['expires_in']} s and a single-use refresh token",
        f"company \"{company['CompanyName']}\", tenant id (DatabaseNumber) {company['DatabaseNumber']}",
    ]


def fortnox_client_credentials(demo: Demo) -> list[str]:
    token = demo.call("POST", f"{demo.fortnox_auth_url}/oauth-v1/token", auth=_fortnox_client(demo),
                      headers={"TenantId": demo.facts["tenant_id"]},
                      data={"grant_type": "client_credentials"}).json()
    if "refresh_token" in token:
        raise DemoFailure("client credentials gave a refresh token; Fortnox gives none")
    demo.facts["fortnox_token"] = token["access_token"]
    return [f"client credentials with TenantId {demo.facts['tenant_id']}: access token for "
            f"{token['expires_in']} s, no refresh token to rotate"]


def customer_and_draft_invoice(demo: Demo) -> list[str]:
    headers = _bearer(demo.facts["fortnox_token"])
    api = f"{demo.fortnox_api_url}/3"
    customer = demo.call("POST", f"{api}/customers", headers=headers, expect=(201,), json={"Customer": {
        "Name": "Acme AB", "OrganisationNumber": "556036-0793", "Type": "COMPANY", "Currency": "SEK",
        "Email": "billing@acme.example", "City": "Stockholm", "CountryCode": "SE",
    }}).json()["Customer"]
    rows = [{"Description": p["name"], "DeliveredQuantity": p["quantity"], "Price": float(p["price"]),
             "VAT": int(VAT_PERCENT)} for p in demo.facts["line_items"]]
    invoice = demo.call("POST", f"{api}/invoices", headers=headers, expect=(201,), json={"Invoice": {
        "CustomerNumber": customer["CustomerNumber"], "Currency": "SEK",
        "ExternalInvoiceReference1": str(demo.facts["deal_id"]), "YourReference": "Anna Andersson",
        "InvoiceRows": rows,
    }}).json()["Invoice"]
    hubspot_net = sum(Decimal(p["amount"]) for p in demo.facts["line_items"])
    if Decimal(str(invoice["Net"])) != hubspot_net:
        raise DemoFailure(f"Fortnox's Net {invoice['Net']} differs from the line items' sum {hubspot_net}")
    if invoice.get("Booked"):
        raise DemoFailure("a new invoice must be a draft (unbooked)")
    preview = demo.call("GET", f"{api}/invoices/{invoice['DocumentNumber']}/preview",
                        headers={**headers, "Accept": "application/pdf"})
    if not preview.content.startswith(b"%PDF-"):
        raise DemoFailure(f"the preview is not a PDF: {preview.content[:40]!r}")
    pdf = demo.output_dir / f"fortnox-invoice-{invoice['DocumentNumber']}.pdf"
    pdf.write_bytes(preview.content)
    return [
        f"customer {customer['CustomerNumber']} \"{customer['Name']}\" created",
        f"draft invoice {invoice['DocumentNumber']} for deal {demo.facts['deal_id']} "
        f"(ExternalInvoiceReference1), {len(rows)} rows",
        f"  net {invoice['Net']} + VAT {invoice['TotalVAT']} (round-off {invoice['RoundOff']}) "
        f"= total {invoice['Total']} SEK; matches the line items' {hubspot_net}",
        f"  preview: {len(preview.content)}-byte PDF "
        f"({preview.content[:8].decode(errors='replace').strip()}) saved to {pdf}",
    ]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _fortnox_client(demo: Demo) -> tuple[str, str]:
    return demo.environment["FORTNOX_CLIENT_ID"], demo.environment["FORTNOX_CLIENT_SECRET"]


#: The story, in order. Later parts of hubnox add their steps here (install through
#: /oauth/hubspot/install, connect Fortnox, the workflow action, the worker, the note with the PDF).
STORY: list[tuple[str, Step]] = [
    ("The local stack is up", stack_is_up),
    ("The gateway answers", gateway_answers),
    ("A HubSpot portal is created through OAuth", hubspot_portal_via_oauth),
    ("A deal with line items is seeded through the CRM API", deal_with_line_items),
    ("A Fortnox company connects through OAuth (authorization code)", fortnox_code_flow),
    ("The company's service account gets a token (client credentials)", fortnox_client_credentials),
    ("A customer and a draft invoice are created in Fortnox", customer_and_draft_invoice),
]


def tell(demo: Demo, story: list[tuple[str, Step]] = STORY, out: Callable[[str], None] = print) -> None:
    """Run the steps in order, printing each; the first failure stops the story (DemoFailure)."""
    for number, (title, step) in enumerate(story, start=1):
        out(f"[{number}/{len(story)}] {title}")
        for line in step(demo):
            out(f"      {line}")


# -- running the stack ---------------------------------------------------------------------------


def demo_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for `up` and the demo alike: the caller's, plus the app's credentials."""
    from sandbox.__main__ import app_environment

    return {**environ, **app_environment(environ), "PYTHONUNBUFFERED": "1"}


def wait_for_health(url: str, process: subprocess.Popen[bytes],
                    timeout: float = STARTUP_TIMEOUT) -> dict[str, Any]:
    """The gateway's health once it answers; a DemoFailure if the stack exits or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DemoFailure(f"the stack exited with {process.returncode} before it was up")
        try:
            response = httpx.get(f"{url}/_sandbox/health", timeout=1.0)
            if response.status_code == 200:
                return dict(response.json())
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise DemoFailure(f"the stack did not answer on {url} within {timeout:.0f} s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Ask the stack to stop (SIGTERM), and end it if it does not within ten seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_demo(port: int, out: Callable[[str], None] = print) -> int:
    """Start the stack on `port`, tell the story, stop the stack; 0 when every step passed."""
    started = time.monotonic()
    environment = demo_environment(os.environ)
    output_dir = Path(tempfile.mkdtemp(prefix="hubnox-demo-"))
    log_path = output_dir / "stack.log"
    gateway_url = f"http://127.0.0.1:{port}"
    out(f"demo: starting the local stack on port {port} (its log: {log_path})")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "up", "--port", str(port)],
            cwd=REPO_ROOT, env=environment, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            health = wait_for_health(gateway_url, process)
            with httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False) as http:
                demo = Demo(
                    gateway_url=gateway_url, hubspot_api_url=health["hubspot_api"],
                    hubspot_auth_url=health["hubspot_auth"], fortnox_api_url=health["fortnox_api"],
                    fortnox_auth_url=health["fortnox_auth"], environment=environment, http=http,
                    output_dir=output_dir,
                )
                tell(demo, out=out)
        except DemoFailure as failure:
            stop_process(process)
            out(f"demo: FAILED: {failure}")
            out("last lines of the stack's log:")
            for line in log_path.read_text(errors="replace").splitlines()[-30:]:
                out(f"  | {line}")
            return 1
        finally:
            stop_process(process)
    out(f"demo: OK ({len(STORY)} steps in {time.monotonic() - started:.1f} s; files in {output_dir})")
    return 0

"""What a HubSpot portal admin does in a browser, done over HTTP against the local stack.

`AdminBrowser` follows redirects across hosts (gateway, HubSpot, Fortnox) and keeps hubnox's
session cookie, the way a browser does (browsers keep Secure cookies for http://127.0.0.1 too).
`install_and_connect` is the admin's first five minutes: install hubnox from HubSpot, land on the
settings page signed in (the install's callback signs in the browser that started it), connect
Fortnox with the Connect link the page gives (it carries the session's CSRF token). The demo and
the end-to-end tests both use it, so they exercise exactly the routes a real admin's browser would.
"""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx

SESSION_COOKIE = "hubnox_session"
#: a separate HubSpot app the demo and tests use to seed and read CRM data, as a person would
SEEDER_CLIENT_ID = "hubnox-local-seeder"
SEEDER_SCOPES = ("oauth crm.objects.deals.read crm.objects.deals.write crm.objects.line_items.read "
                 "crm.objects.line_items.write crm.objects.products.read crm.objects.products.write "
                 "crm.objects.companies.read crm.objects.companies.write crm.objects.contacts.read "
                 "crm.objects.contacts.write files crm.schemas.deals.read crm.schemas.companies.write "
                 "crm.schemas.contacts.write")


class AdminError(Exception):
    """A step of the admin's flow did not go as a browser would expect."""


@dataclass
class AdminBrowser:
    """A tiny browser: follows redirects across hosts and keeps hubnox's session cookie."""

    timeout: float = 15.0
    history: list[str] = field(default_factory=list)
    #: host -> cookie name -> value, as the browser keeps them
    cookies: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._http = httpx.Client(timeout=self.timeout, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    @property
    def session_cookie(self) -> str | None:
        """hubnox's settings session cookie, wherever hubnox set it."""
        return next((jar[SESSION_COOKIE] for jar in self.cookies.values() if SESSION_COOKIE in jar), None)

    def _headers(self, url: str) -> dict[str, str]:
        jar = self.cookies.get(urlsplit(url).netloc, {})
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}

    def _remember(self, url: str, response: httpx.Response) -> None:
        jar = self.cookies.setdefault(urlsplit(url).netloc, {})
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value and "max-age=0" not in header.lower():
                jar[name.strip()] = value
            else:
                jar.pop(name.strip(), None)

    def request(self, method: str, url: str, *, data: dict[str, str] | None = None,
                max_redirects: int = 10) -> httpx.Response:
        """Send a request and follow redirects (GET after 302/303) until a page answers."""
        response = self._http.request(method, url, data=data, headers=self._headers(url))
        self.history.append(f"{method} {url} -> {response.status_code}")
        self._remember(url, response)
        for _ in range(max_redirects):
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            url = urljoin(url, response.headers["location"])
            response = self._http.get(url, headers=self._headers(url))
            self.history.append(f"GET {url} -> {response.status_code}")
            self._remember(url, response)
        if max_redirects and response.status_code in (301, 302, 303, 307, 308):
            raise AdminError(f"too many redirects, last {url}")
        return response

    def get(self, url: str) -> httpx.Response:
        return self.request("GET", url)

    def post_form(self, url: str, data: dict[str, str]) -> httpx.Response:
        return self.request("POST", url, data=data)


@dataclass
class ConnectedPortal:
    """A portal with hubnox installed and a Fortnox company connected, as tests and the demo use it."""

    portal_id: str
    tenant_id: str
    company_name: str
    browser: AdminBrowser
    settings_page: str
    #: a token of a separate HubSpot app in the portal, for seeding CRM data through the real API
    hubspot_token: str = ""

    @property
    def login_cookie(self) -> str:
        return self.browser.session_cookie or ""

    def csrf_token(self) -> str:
        """The CSRF secret the settings page carries (for state-changing requests)."""
        return page_csrf(self.settings_page)


def page_csrf(page: str) -> str:
    """The session's CSRF secret, from the settings page's `csrf-token` meta tag."""
    marker = 'name="csrf-token" content="'
    if marker not in page:
        raise AdminError(f"the page carries no CSRF token: {page[:300]}")
    start = page.index(marker) + len(marker)
    return html.unescape(page[start:page.index('"', start)])


def page_data(page: str, name: str) -> str:
    """A `data-<name>` attribute of the settings page (the Connections section carries the ids)."""
    found = re.search(rf'data-{re.escape(name)}="([^"]*)"', page)
    if found is None:
        raise AdminError(f"the page has no data-{name}: {page[:300]}")
    return html.unescape(found.group(1))


def install_hubnox(browser: AdminBrowser, gateway_url: str, *, portal_id: str | None = None) -> str:
    """Install hubnox from HubSpot (optionally into an existing portal); answers the portal id."""
    url = f"{gateway_url}/oauth/hubspot/install"
    if portal_id:
        # What choosing an account on HubSpot's consent page does; the simulator takes it as a parameter.
        install = browser.request("GET", url, max_redirects=0)
        url = f"{install.headers['location']}&{urlencode({'sandbox_portal': portal_id})}"
    page = browser.get(url)
    if page.status_code != 200 or not browser.session_cookie:
        raise AdminError(f"install did not end on the signed-in settings page ({page.status_code}): "
                         f"{page.text[:300]}")
    return page_data(page.text, "portal-id")


def open_login_link(browser: AdminBrowser, link: str, *, portal_id: str, user_id: str | None = None) -> httpx.Response:
    """Open a settings login link (the app card's "Open hubnox settings"): hubnox sends the browser
    through HubSpot's consent, where the browser's user (the portal's installer unless `user_id`
    names another of its users) picks `portal_id`; answers the final page."""
    start = browser.request("GET", link, max_redirects=0)
    if start.status_code not in (302, 303):
        return start
    consent = {"sandbox_portal": portal_id, **({"sandbox_user": user_id} if user_id else {})}
    return browser.get(f"{start.headers['location']}&{urlencode(consent)}")


def connect_url(browser: AdminBrowser, gateway_url: str) -> str:
    """The settings page's Connect Fortnox link, carrying the session's CSRF token as the page's does."""
    page = browser.get(f"{gateway_url}/settings")
    if page.status_code != 200:
        raise AdminError(f"the settings page did not open ({page.status_code}): {page.text[:300]}")
    return f"{gateway_url}/oauth/fortnox/connect?{urlencode({'csrf_token': page_csrf(page.text)})}"


def connect_fortnox(browser: AdminBrowser, gateway_url: str, *, tenant_id: str | None = None) -> str:
    """Connect Fortnox from the settings page (optionally an existing company); answers the page."""
    url = connect_url(browser, gateway_url)
    if tenant_id:
        connect = browser.request("GET", url, max_redirects=0)
        if connect.status_code != 302:
            raise AdminError(f"connect refused ({connect.status_code}): {connect.text[:300]}")
        url = f"{connect.headers['location']}&{urlencode({'sandbox_tenant': tenant_id})}"
    page = browser.get(url)
    if page.status_code != 200 or "Fortnox is connected" not in page.text:
        raise AdminError(f"connect did not end on the settings page ({page.status_code}): {page.text[:300]}")
    return page.text


def install_and_connect(gateway_url: str) -> ConnectedPortal:
    """Install hubnox into a fresh portal and connect a fresh Fortnox company, as an admin would."""
    browser = AdminBrowser()
    portal_id = install_hubnox(browser, gateway_url)
    page = connect_fortnox(browser, gateway_url)
    return ConnectedPortal(portal_id, page_data(page, "fortnox-tenant"), page_data(page, "fortnox-company"),
                           browser, page)


def seeder_token(hubspot_url: str, portal_id: str) -> str:
    """A HubSpot access token of a separate app in `portal_id`, to seed and read CRM data by the real API."""
    redirect_uri = "http://127.0.0.1/seeder-callback"
    state = secrets.token_urlsafe(8)
    with httpx.Client(base_url=hubspot_url, timeout=10.0) as http:
        consent = http.get("/oauth/authorize", params={
            "client_id": SEEDER_CLIENT_ID, "redirect_uri": redirect_uri, "scope": SEEDER_SCOPES,
            "state": state, "sandbox_portal": portal_id})
        query = parse_qs(urlsplit(consent.headers["location"]).query)
        if query.get("state") != [state] or "code" not in query:
            raise AdminError(f"seeder consent failed: {consent.headers.get('location')}")
        token = http.post("/oauth/2026-03/token", data={
            "grant_type": "authorization_code", "client_id": SEEDER_CLIENT_ID, "client_secret": "seeder-secret",
            "redirect_uri": redirect_uri, "code": query["code"][0]})
        token.raise_for_status()
        return str(token.json()["access_token"])


# -- HubSpot's webhooks and uninstall, driven through the simulator's controls ---------------------
# A person moving a deal in HubSpot, an admin uninstalling the app, and the knobs tests use to
# watch and steer HubSpot's webhook deliveries (pause, flush, faults, shorter backoff).


def _control(method: str, url: str, json: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.request(method, url, json=json, timeout=30.0)
    if response.status_code >= 400:
        raise AdminError(f"{method} {url} answered {response.status_code}: {response.text[:300]}")
    body = response.json()
    assert isinstance(body, dict)
    return body


def move_deal(hubspot_url: str, portal_id: str | int, deal_id: str, stage: str) -> dict[str, Any]:
    """Move a deal to a stage as a person in HubSpot does (the webhook's changeSource is CRM_UI)."""
    return _control("PATCH", f"{hubspot_url}/_sandbox/portals/{portal_id}/objects/deals/{deal_id}",
                    {"properties": {"dealstage": stage}})


# A workflow whose enrollment trigger is a property value (sandbox/hubspot_workflow_triggers.py).


def add_workflow_trigger(hubspot_url: str, portal_id: str | int, object_type: str, property: str, value: Any,
                         reenroll: bool = False) -> str:
    """Build a HubSpot workflow that enrolls `object_type` records ("deals", "companies", "contacts")
    when `property` changes to `value` (once per record unless `reenroll`); answers its trigger id."""
    body = _control("POST", f"{hubspot_url}/_sandbox/workflows/triggers",
                    {"portalId": int(portal_id), "objectType": object_type, "property": property,
                     "value": value, "reenroll": reenroll})
    return str(body["triggerId"])


def workflow_enrollments(hubspot_url: str, trigger_id: str) -> list[dict[str, Any]]:
    """The records a workflow trigger enrolled, oldest first: {objectId, at, changeSource, sourceId}."""
    response = httpx.get(f"{hubspot_url}/_sandbox/workflows/triggers/{trigger_id}/enrollments", timeout=30.0)
    if response.status_code >= 400:
        raise AdminError(f"reading workflow enrollments answered {response.status_code}: {response.text[:300]}")
    return list(response.json()["enrollments"])


def uninstall_app(hubspot_url: str, portal_id: str | int, client_id: str | None = None) -> list[str]:
    """Uninstall the app (all apps unless `client_id`) from a portal as its admin does: its tokens
    stop working, refreshing answers BAD_REFRESH_TOKEN and no more webhooks are sent for it."""
    body = _control("POST", f"{hubspot_url}/_sandbox/portals/{portal_id}/uninstall",
                    {"clientId": client_id} if client_id else {})
    return [str(c) for c in body["uninstalled"]]


def webhook_deliveries(hubspot_url: str, *, portal_id: str | int | None = None,
                       state: str | None = None) -> list[dict[str, Any]]:
    """HubSpot's webhook requests (batches) with their events, attempts and status codes."""
    params = {k: str(v) for k, v in {"portalId": portal_id, "state": state}.items() if v is not None}
    response = httpx.get(f"{hubspot_url}/_sandbox/hubspot/webhooks", params=params, timeout=30.0)
    if response.status_code >= 400:
        raise AdminError(f"listing webhook deliveries answered {response.status_code}: {response.text[:300]}")
    return list(response.json()["deliveries"])


def flush_webhooks(hubspot_url: str) -> list[dict[str, Any]]:
    """Deliver every webhook due now (batching window ignored) and wait for the app's answers."""
    return list(_control("POST", f"{hubspot_url}/_sandbox/hubspot/webhooks/flush")["delivered"])


def pause_webhooks(hubspot_url: str) -> None:
    """Hold webhook deliveries (events still queue) until `resume_webhooks` or a flush."""
    _control("POST", f"{hubspot_url}/_sandbox/hubspot/webhooks/pause")


def resume_webhooks(hubspot_url: str) -> None:
    _control("POST", f"{hubspot_url}/_sandbox/hubspot/webhooks/resume")


def configure_webhook_delivery(hubspot_url: str, **settings: Any) -> dict[str, Any]:
    """Set `batchWindowMs`, `retryBackoffMs` (a fixed wait instead of HubSpot's ~24 h schedule;
    None restores it) or `timeoutSeconds`."""
    return _control("PUT", f"{hubspot_url}/_sandbox/hubspot/webhooks/config", dict(settings))


def inject_webhook_faults(hubspot_url: str, *, fail_next: int = 0, fail_status: int = 500,
                          duplicate_next: int = 0) -> dict[str, Any]:
    """Make the next `fail_next` webhook requests fail with `fail_status` (the app is not called)
    and the next `duplicate_next` ones arrive twice."""
    return _control("POST", f"{hubspot_url}/_sandbox/hubspot/webhooks/faults",
                    {"failNext": fail_next, "failStatus": fail_status, "duplicateNext": duplicate_next})


# -- Fortnox invoices through their states, driven through the simulator's controls ------------------
# What the Fortnox company's bookkeeper does after hubnox made an invoice: book it, send it, register
# the customer's payment, credit it, cancel it; and time passing (an invoice falls overdue). No token
# is needed; a transition Fortnox refuses raises AdminError with Fortnox's message.

#: the actions POST /_sandbox/companies/{tenant}/invoices/{n}/{action} knows
FORTNOX_INVOICE_ACTIONS = ("bookkeep", "send", "pay", "credit", "cancel", "overdue")


def fortnox_invoice_action(fortnox_url: str, tenant_id: str | int, number: str | int, action: str,
                           **body: Any) -> dict[str, Any]:
    """One lifecycle step on a Fortnox invoice; answers {Invoice} (pay adds InvoicePayment, credit
    CreditInvoice). Arguments left as None are not sent, so the simulator's defaults apply."""
    return _control("POST", f"{fortnox_url}/_sandbox/companies/{tenant_id}/invoices/{number}/{action}",
                    {k: v for k, v in body.items() if v is not None})


def bookkeep_invoice(fortnox_url: str, tenant_id: str | int, number: str | int) -> dict[str, Any]:
    return fortnox_invoice_action(fortnox_url, tenant_id, number, "bookkeep")


def send_invoice(fortnox_url: str, tenant_id: str | int, number: str | int) -> dict[str, Any]:
    return fortnox_invoice_action(fortnox_url, tenant_id, number, "send")


def pay_invoice(fortnox_url: str, tenant_id: str | int, number: str | int, amount: Any = None,
                date: str | None = None) -> dict[str, Any]:
    """Register the customer's payment on a booked invoice: `amount` in the invoice's currency (default
    the whole balance), `date` YYYY-MM-DD (default today in Sweden)."""
    return fortnox_invoice_action(fortnox_url, tenant_id, number, "pay",
                                  amount=None if amount is None else str(amount), date=date)


def credit_invoice(fortnox_url: str, tenant_id: str | int, number: str | int) -> dict[str, Any]:
    """Credit a booked invoice: answers the original and the new (unbooked) CreditInvoice."""
    return fortnox_invoice_action(fortnox_url, tenant_id, number, "credit")


def cancel_invoice(fortnox_url: str, tenant_id: str | int, number: str | int) -> dict[str, Any]:
    return fortnox_invoice_action(fortnox_url, tenant_id, number, "cancel")


def make_overdue(fortnox_url: str, tenant_id: str | int, number: str | int, days: int = 1) -> dict[str, Any]:
    """Move the invoice's due date `days` into the past (and stamp it modified, a test convenience)."""
    return fortnox_invoice_action(fortnox_url, tenant_id, number, "overdue", days=days)


def fortnox_payments(fortnox_url: str, tenant_id: str | int) -> list[dict[str, Any]]:
    """Every invoice payment of the Fortnox company, as GET /3/invoicepayments/{Number} shows it."""
    response = httpx.get(f"{fortnox_url}/_sandbox/companies/{tenant_id}/payments", timeout=30.0)
    if response.status_code >= 400:
        raise AdminError(f"listing Fortnox payments answered {response.status_code}: {response.text[:300]}")
    return list(response.json()["payments"])

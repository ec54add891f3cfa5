"""Connections: install, connect, disconnect, and tokens that stay fresh without ever racing.

The stores run on moto; HubSpot and Fortnox are the simulators, in process, so token rotation,
single-use refresh tokens and revoked consents behave as the real services do.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from moto import mock_aws

from hubnox.errors import BadRequestError, ConnectionBrokenError, TransientError, UnauthorizedError
from hubnox.fortnox.client import FortnoxClient
from hubnox.fortnox.oauth import FortnoxOAuth
from hubnox.hubspot.client import HubSpotClient
from hubnox.hubspot.oauth import HubSpotOAuth
from hubnox.rate_budget import LocalRateBudget
from hubnox.records import FortnoxConnection
from hubnox.services.install import FORTNOX_SCOPES, ConnectionService
from hubnox.signing import Signer
from hubnox.store.connections import ConnectionStore, FortnoxAlreadyConnected, FortnoxCompanyTaken
from hubnox.store.crypto import TokenCipher
from hubnox.store.leases import LeaseStore
from hubnox.store.nonces import NonceStore
from hubnox.store.sessions import SessionStore
from hubnox.store.table import Table, create_table
from hubnox.tokens import FortnoxTokenSource, HubSpotTokenSource, StaticToken
from hubnox.web.session import Session, login_link, read_session
from sandbox.fortnox import FortnoxSimulator
from sandbox.hubspot import HubSpotSimulator
from tests.support.aws import TABLE, OneRequestAtATime, moto_clients

BASE = "https://hubnox.example.com"
FORTNOX = "http://fortnox.test"
HUBSPOT = "http://hubspot.test"
CLIENT_ID, CLIENT_SECRET = "hubnox-fortnox-client", "fortnox-secret"
HS_CLIENT_ID, HS_CLIENT_SECRET = "hubnox-hubspot-client", "hubspot-secret"


@pytest.fixture(scope="module")
def clients():
    return moto_clients()


@pytest.fixture
def stores(clients):
    dynamodb, kms = clients
    with mock_aws():
        create_table(dynamodb, TABLE)
        key_id = kms.create_key(Description="hubnox tokens")["KeyMetadata"]["KeyId"]
        table = Table(OneRequestAtATime(dynamodb), TABLE)
        yield (ConnectionStore(table, TokenCipher(kms, key_id)), LeaseStore(table, clock=time.time),
               NonceStore(table, clock=time.time), SessionStore(table, clock=time.time))


@pytest.fixture
def fortnox():
    return FortnoxSimulator()


@pytest.fixture
def hubspot():
    return HubSpotSimulator()


def fortnox_http(sim: FortnoxSimulator) -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(app=sim), base_url=FORTNOX)


def hubspot_http(sim: HubSpotSimulator) -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(app=sim), base_url=HUBSPOT)


def fortnox_oauth(sim: FortnoxSimulator) -> FortnoxOAuth:
    return FortnoxOAuth(fortnox_http(sim), client_id=CLIENT_ID, client_secret=CLIENT_SECRET, auth_url=FORTNOX)


def hubspot_oauth(sim: HubSpotSimulator) -> HubSpotOAuth:
    return HubSpotOAuth(hubspot_http(sim), client_id=HS_CLIENT_ID, client_secret=HS_CLIENT_SECRET,
                        auth_url=HUBSPOT)


def follow_consent(http: httpx.Client, authorize_url: str) -> dict[str, str]:
    """What the admin's browser does: open the consent page, land on the redirect with its query."""
    answer = http.get(authorize_url.replace(FORTNOX, "").replace(HUBSPOT, ""))
    assert answer.status_code == 302, answer.text
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}


def service(stores, fortnox_sim, hubspot_sim, *, service_account: bool = False) -> ConnectionService:
    connections, _, nonces, sessions = stores
    budget = LocalRateBudget()
    return ConnectionService(
        public_base=BASE,
        connections=connections,
        nonces=nonces,
        sessions=sessions,
        signer=Signer("s" * 32),
        hubspot_oauth=hubspot_oauth(hubspot_sim),
        fortnox_oauth=fortnox_oauth(fortnox_sim),
        hubspot_client=lambda portal, token: HubSpotClient(hubspot_http(hubspot_sim), StaticToken(token), budget,
                                                           portal),
        fortnox_client=lambda tenant, token: FortnoxClient(fortnox_http(fortnox_sim), StaticToken(token), budget,
                                                           f"{CLIENT_ID}:{tenant}"),
        fortnox_service_account=service_account,
    )


def install(svc: ConnectionService, hubspot_sim: HubSpotSimulator) -> str:
    start = svc.hubspot_install_url()
    redirect = follow_consent(hubspot_http(hubspot_sim), start.url)
    return svc.finish_hubspot_install(redirect["code"], redirect["state"], start.browser_secret).portal_id


def consent_of(hubspot_sim: HubSpotSimulator, authorize_url: str) -> dict[str, str]:
    """The code and state HubSpot's consent page sends back to hubnox's callback."""
    redirect = follow_consent(hubspot_http(hubspot_sim), authorize_url)
    return {"code": redirect["code"], "state": redirect["state"]}


def connect(svc: ConnectionService, fortnox_sim: FortnoxSimulator, portal_id: str, **consent: str
            ) -> FortnoxConnection:
    url = svc.fortnox_connect_url(Session(portal_id, "admin", "csrf"))
    if consent:
        url += "&" + "&".join(f"{k}={v}" for k, v in consent.items())
    redirect = follow_consent(fortnox_http(fortnox_sim), url)
    return svc.finish_fortnox_connect(redirect["code"], redirect["state"], Session(portal_id, "admin", "csrf"))


# -- install ---------------------------------------------------------------------------------------


def test_install_stores_the_portal_and_creates_the_app_properties(stores, fortnox, hubspot):
    svc = service(stores, fortnox, hubspot)
    start = svc.hubspot_install_url()
    query = parse_qs(urlsplit(start.url).query)
    assert query["redirect_uri"] == [f"{BASE}/oauth/hubspot/callback"]
    assert "automation" in query["scope"][0].split() and "files" in query["scope"][0].split()

    redirect = follow_consent(hubspot_http(hubspot), start.url)
    result = svc.finish_hubspot_install(redirect["code"], redirect["state"], start.browser_secret)

    stored = stores[0].get_hubspot(result.portal_id)
    assert stored is not None and stored.status == "active" and stored.access_token.get_secret_value()
    assert result.settings_url == f"{BASE}/settings"  # the install's browser is signed in at once
    assert result.session.portal_id == result.portal_id and result.cookie.value
    deal_properties = {p["name"] for p in hubspot_http(hubspot).get(
        "/crm/properties/2026-03/0-3", headers={"Authorization": f"Bearer {stored.access_token.get_secret_value()}"}
    ).json()["results"]}
    assert {"fortnox_document_number", "fortnox_sync_status", "fortnox_last_error"} <= deal_properties


def test_a_forged_or_replayed_install_state_is_refused(stores, fortnox, hubspot):
    svc = service(stores, fortnox, hubspot)
    start = svc.hubspot_install_url()
    redirect = follow_consent(hubspot_http(hubspot), start.url)
    with pytest.raises(BadRequestError) as forged:
        svc.finish_hubspot_install(redirect["code"], redirect["state"][:-3] + "abc", start.browser_secret)
    assert forged.value.code == "BAD_STATE"
    svc.finish_hubspot_install(redirect["code"], redirect["state"], start.browser_secret)
    with pytest.raises(BadRequestError) as replayed:
        svc.finish_hubspot_install(redirect["code"], redirect["state"], start.browser_secret)
    assert "already used" in replayed.value.message


def test_a_finished_install_opened_in_another_browser_is_refused(stores, fortnox, hubspot):
    # An attacker's finished install link, sent to a victim, must not sign the victim in to the
    # attacker's portal: the state belongs to the browser that started the install.
    svc = service(stores, fortnox, hubspot)
    for other in (None, "another-browsers-secret"):
        redirect = follow_consent(hubspot_http(hubspot), svc.hubspot_install_url().url)
        with pytest.raises(BadRequestError) as refused:
            svc.finish_hubspot_install(redirect["code"], redirect["state"], other)
        assert "another browser" in refused.value.message


def test_a_fortnox_connect_finishes_only_for_the_portal_that_started_it(stores, fortnox, hubspot):
    svc = service(stores, fortnox, hubspot)
    mine, theirs = install(svc, hubspot), install(svc, hubspot)
    url = svc.fortnox_connect_url(Session(theirs, "attacker", "csrf"))
    redirect = follow_consent(fortnox_http(fortnox), url)
    with pytest.raises(BadRequestError):
        svc.finish_fortnox_connect(redirect["code"], redirect["state"], Session(mine, "admin", "csrf"))
    assert stores[0].get_fortnox(theirs) is None and stores[0].get_fortnox(mine) is None


def test_an_install_signs_in_its_browser_and_ends_the_portals_earlier_sessions(stores, fortnox, hubspot):
    svc = service(stores, fortnox, hubspot)
    sessions = stores[3]
    start = svc.hubspot_install_url()
    first = svc.finish_hubspot_install(**consent_of(hubspot, start.url), browser_secret=start.browser_secret)
    cookie = [f"hubnox_session={first.cookie.value}"]
    assert read_session(svc._signer, sessions, cookie).portal_id == first.portal_id

    again = svc.hubspot_install_url()  # hubnox installed again into the same portal
    url = again.url + f"&sandbox_portal={first.portal_id}"
    second = svc.finish_hubspot_install(**consent_of(hubspot, url), browser_secret=again.browser_secret)
    assert second.portal_id == first.portal_id
    with pytest.raises(UnauthorizedError):
        read_session(svc._signer, sessions, cookie)
    assert read_session(svc._signer, sessions, [f"hubnox_session={second.cookie.value}"])


# -- signing in from the app card's link ----------------------------------------------------------------


def installer_of(stores, portal_id: str) -> str:
    return str(stores[0].get_hubspot(portal_id).installed_by_user)


def test_a_login_link_signs_in_the_browser_whose_hubspot_user_it_names(stores, fortnox, hubspot):
    svc = service(stores, fortnox, hubspot)
    portal = install(svc, hubspot)
    link = login_link(svc._signer, BASE, portal, "admin@acme.example", installer_of(stores, portal))
    start = svc.begin_login(parse_qs(urlsplit(link).query)["login"][0])
    assert start.url.startswith(f"{HUBSPOT}/oauth/authorize")  # HubSpot says who this browser's user is
    signed_in = svc.finish_login(**consent_of(hubspot, start.url + f"&sandbox_portal={portal}"),
                                 browser_secret=start.browser_secret)
    # The session names the user as HubSpot does (the e-mail), the same as after an install.
    assert (signed_in.portal_id, signed_in.session.user) == (portal, f"admin@hubnox-sandbox-{portal}.com")


def test_a_super_admin_who_did_not_install_signs_in_and_a_colleague_who_is_not_is_refused(stores, fortnox, hubspot):
    svc = service(stores, fortnox, hubspot)
    portal = install(svc, hubspot)
    users = {name: hubspot.add_user(hubspot.portals[int(portal)], {"email": f"{name}@acme.example",
                                                                   "superAdmin": name == "eva"})
             for name in ("eva", "sam")}

    def sign_in(name: str):
        link = login_link(svc._signer, BASE, portal, f"{name}@acme.example", users[name].id)
        start = svc.begin_login(parse_qs(urlsplit(link).query)["login"][0])
        answer = consent_of(hubspot, start.url + f"&sandbox_portal={portal}&sandbox_user={users[name].id}")
        return svc.finish_login(**answer, browser_secret=start.browser_secret)

    assert sign_in("eva").session.user == "eva@acme.example"
    with pytest.raises(UnauthorizedError) as refused:
        sign_in("sam")
    assert refused.value.code == "NOT_SUPER_ADMIN"


def test_a_login_link_opened_without_its_browser_cookie_is_refused(stores, fortnox, hubspot):
    svc = service(stores, fortnox, hubspot)
    portal = install(svc, hubspot)
    for other in (None, "another-browsers-secret"):
        link = login_link(svc._signer, BASE, portal, "admin", installer_of(stores, portal))
        start = svc.begin_login(parse_qs(urlsplit(link).query)["login"][0])
        answer = consent_of(hubspot, start.url + f"&sandbox_portal={portal}")
        with pytest.raises(BadRequestError) as refused:
            svc.finish_login(**answer, browser_secret=other)
        assert "another browser" in refused.value.message


def test_an_attackers_login_link_cannot_sign_in_a_victim_of_another_portal(stores, fortnox, hubspot):
    # The victim opens the attacker's link; HubSpot signs the victim's own user in, in their own portal.
    svc = service(stores, fortnox, hubspot)
    attackers, victims = install(svc, hubspot), install(svc, hubspot)
    link = login_link(svc._signer, BASE, attackers, "attacker", installer_of(stores, attackers))
    start = svc.begin_login(parse_qs(urlsplit(link).query)["login"][0])
    answer = consent_of(hubspot, start.url + f"&sandbox_portal={victims}")
    with pytest.raises(UnauthorizedError) as refused:
        svc.finish_login(**answer, browser_secret=start.browser_secret)
    assert refused.value.code == "WRONG_USER" and "another HubSpot user or portal" in refused.value.message


def test_a_login_link_for_another_user_of_the_portal_is_refused(stores, fortnox, hubspot):
    svc = service(stores, fortnox, hubspot)
    portal = install(svc, hubspot)
    link = login_link(svc._signer, BASE, portal, "someone", "99999999")
    start = svc.begin_login(parse_qs(urlsplit(link).query)["login"][0])
    answer = consent_of(hubspot, start.url + f"&sandbox_portal={portal}")
    with pytest.raises(UnauthorizedError):
        svc.finish_login(**answer, browser_secret=start.browser_secret)


# -- Fortnox connect and disconnect ------------------------------------------------------------------


def test_a_fortnox_company_serves_one_portal_and_a_second_is_told_how_to_free_it(stores, fortnox, hubspot):
    svc = service(stores, fortnox, hubspot)
    first_portal, second_portal = install(svc, hubspot), install(svc, hubspot)
    first = connect(svc, fortnox, first_portal)
    revokes_before = len([e for e in fortnox.log.entries() if e.path == "/oauth-v1/revoke"])

    with pytest.raises(FortnoxCompanyTaken) as refused:
        connect(svc, fortnox, second_portal, sandbox_tenant=first.tenant_id)
    assert refused.value.code == "FORTNOX_COMPANY_ALREADY_CONNECTED"
    assert f"portal {first_portal}'s hubnox settings first" in (refused.value.hint or "")
    assert stores[0].get_fortnox(second_portal) is None
    kept = stores[0].get_fortnox(first_portal)
    assert kept is not None and kept.version == first.version
    assert kept.refresh_token.get_secret_value() == first.refresh_token.get_secret_value()
    revokes = len([e for e in fortnox.log.entries() if e.path == "/oauth-v1/revoke"])
    assert revokes == revokes_before + 1  # the refused connect's grant does not dangle

    svc.disconnect_fortnox(Session(first_portal, "admin", "csrf"))  # releases the company
    assert connect(svc, fortnox, second_portal, sandbox_tenant=first.tenant_id).tenant_id == first.tenant_id


def test_reconnecting_the_same_company_to_its_own_portal_is_allowed(stores, fortnox, hubspot):
    svc = service(stores, fortnox, hubspot)
    portal = install(svc, hubspot)
    first = connect(svc, fortnox, portal)
    again = stores[0].put_fortnox(first)
    assert again.tenant_id == first.tenant_id and again.version == first.version + 1


def test_connect_learns_the_company_and_asks_for_every_scope_hubnox_needs(stores, fortnox, hubspot):
    svc = service(stores, fortnox, hubspot)
    portal = install(svc, hubspot)
    url = svc.fortnox_connect_url(Session(portal, "admin", "csrf"))
    query = parse_qs(urlsplit(url).query)
    assert query["scope"][0].split() == list(FORTNOX_SCOPES)
    assert query["access_type"] == ["offline"] and "account_type" not in query

    connection = connect(svc, fortnox, portal)
    assert connection.tenant_id and connection.company_name
    assert connection.auth_mode == "authorization_code" and connection.refresh_token.get_secret_value()


def test_a_second_company_needs_a_disconnect_first_and_then_connects(stores, fortnox, hubspot):
    svc = service(stores, fortnox, hubspot)
    portal = install(svc, hubspot)
    first = connect(svc, fortnox, portal)
    with pytest.raises(FortnoxAlreadyConnected):
        svc.fortnox_connect_url(Session(portal, "admin", "csrf"))

    removed = svc.disconnect_fortnox(Session(portal, "admin", "csrf"))
    assert removed is not None and removed.tenant_id == first.tenant_id
    revokes = [e for e in fortnox.log.entries() if e.path == "/oauth-v1/revoke"]
    assert len(revokes) == 1

    second = connect(svc, fortnox, portal)
    assert second.tenant_id != first.tenant_id
    assert stores[0].get_fortnox(portal).tenant_id == second.tenant_id


def test_a_service_account_connection_takes_tokens_with_client_credentials(stores, fortnox, hubspot):
    svc = service(stores, fortnox, hubspot, service_account=True)
    portal = install(svc, hubspot)
    url = svc.fortnox_connect_url(Session(portal, "admin", "csrf"))
    assert parse_qs(urlsplit(url).query)["account_type"] == ["service"]
    connection = connect(svc, fortnox, portal)
    assert connection.auth_mode == "client_credentials"

    connections, leases, _, _ = stores
    expire(connections, portal)
    tokens = FortnoxTokenSource(portal, connections, leases, fortnox_oauth(fortnox))
    token = tokens.token()
    grants = [parse_qs(e.body)["grant_type"][0] for e in fortnox.log.entries() if e.path == "/oauth-v1/token"]
    assert grants[-1] == "client_credentials"
    assert fortnox_client(fortnox, token, connection.tenant_id).company_information().database_number


# -- Fortnox tokens ----------------------------------------------------------------------------------


def expire(connections: ConnectionStore, portal: str) -> None:
    """Make the stored access token due for refresh, as time would."""
    current = connections.get_fortnox(portal)
    connections.update_fortnox_tokens(portal, access_token=current.access_token.get_secret_value(),
                                      refresh_token=current.refresh_token.get_secret_value(),
                                      access_expires_at=0, expected_version=current.version)


def fortnox_client(sim: FortnoxSimulator, token: str, tenant: str) -> FortnoxClient:
    return FortnoxClient(fortnox_http(sim), StaticToken(token), LocalRateBudget(), f"{CLIENT_ID}:{tenant}")


def refreshes(sim: FortnoxSimulator) -> int:
    return sum(1 for e in sim.log.entries() if e.path == "/oauth-v1/token" and "refresh_token" in e.body)


def test_a_fresh_token_is_used_without_asking_fortnox(stores, fortnox, hubspot):
    portal = install(service(stores, fortnox, hubspot), hubspot)
    connection = connect(service(stores, fortnox, hubspot), fortnox, portal)
    connections, leases, _, _ = stores
    tokens = FortnoxTokenSource(portal, connections, leases, fortnox_oauth(fortnox))
    assert tokens.token() == connection.access_token.get_secret_value()
    assert refreshes(fortnox) == 0


def test_twenty_workers_needing_a_fresh_token_leave_exactly_one_refresh(stores, fortnox, hubspot):
    svc = service(stores, fortnox, hubspot)
    portal = install(svc, hubspot)
    connection = connect(svc, fortnox, portal)
    connections, leases, _, _ = stores
    expire(connections, portal)
    start = threading.Barrier(20)

    def worker(_: int) -> str:
        # Each worker is its own Lambda container: its own token source, the same table.
        tokens = FortnoxTokenSource(portal, connections, leases, fortnox_oauth(fortnox))
        start.wait()
        return tokens.token()

    with ThreadPoolExecutor(max_workers=20) as pool:
        tokens = list(pool.map(worker, range(20)))

    assert refreshes(fortnox) == 1
    assert len(set(tokens)) == 1
    stored = connections.get_fortnox(portal)
    assert stored.status == "active" and stored.refresh_token != connection.refresh_token
    assert fortnox_client(fortnox, tokens[0], connection.tenant_id).company_information().company_name


def test_the_new_refresh_token_is_saved_before_the_access_token_is_used(stores, fortnox, hubspot):
    svc = service(stores, fortnox, hubspot)
    portal = install(svc, hubspot)
    connect(svc, fortnox, portal)
    connections, leases, _, _ = stores
    expire(connections, portal)
    FortnoxTokenSource(portal, connections, leases, fortnox_oauth(fortnox)).token()
    # A second refresh works only with the rotated token, which must therefore be stored.
    expire(connections, portal)
    FortnoxTokenSource(portal, connections, leases, fortnox_oauth(fortnox)).token()
    assert refreshes(fortnox) == 2
    assert connections.get_fortnox(portal).status == "active"


def test_a_refused_token_is_refreshed_once_then_used(stores, fortnox, hubspot):
    svc = service(stores, fortnox, hubspot)
    portal = install(svc, hubspot)
    connection = connect(svc, fortnox, portal)
    connections, leases, _, _ = stores
    fortnox_http(fortnox).post("/_sandbox/tokens/expire", json={"tenantId": connection.tenant_id})
    tokens = FortnoxTokenSource(portal, connections, leases, fortnox_oauth(fortnox))
    client = FortnoxClient(fortnox_http(fortnox), tokens, LocalRateBudget(), f"{CLIENT_ID}:{connection.tenant_id}")
    assert client.company_information().company_name
    assert refreshes(fortnox) == 1


def test_a_revoked_consent_marks_the_connection_broken_and_stops_asking(stores, fortnox, hubspot):
    svc = service(stores, fortnox, hubspot)
    portal = install(svc, hubspot)
    connection = connect(svc, fortnox, portal)
    connections, leases, _, _ = stores
    fortnox_http(fortnox).delete(f"/_sandbox/companies/{connection.tenant_id}/consents")
    expire(connections, portal)
    with pytest.raises(ConnectionBrokenError):
        FortnoxTokenSource(portal, connections, leases, fortnox_oauth(fortnox)).token()
    assert connections.get_fortnox(portal).status == "broken"

    asked = len(fortnox.log.entries())
    with pytest.raises(ConnectionBrokenError) as again:
        FortnoxTokenSource(portal, connections, leases, fortnox_oauth(fortnox)).token()
    assert "Reconnect Fortnox" in (again.value.hint or "")
    assert len(fortnox.log.entries()) == asked


def test_a_portal_without_fortnox_is_told_to_connect(stores, fortnox, hubspot):
    connections, leases, _, _ = stores
    with pytest.raises(ConnectionBrokenError) as missing:
        FortnoxTokenSource("999", connections, leases, fortnox_oauth(fortnox)).token()
    assert "not connected to Fortnox" in missing.value.message


# -- HubSpot tokens ----------------------------------------------------------------------------------


def test_hubspot_tokens_refresh_before_they_expire(stores, fortnox, hubspot):
    portal = install(service(stores, fortnox, hubspot), hubspot)
    connections, leases, _, _ = stores
    current = connections.get_hubspot(portal)
    connections.update_hubspot_tokens(portal, access_token=current.access_token.get_secret_value(),
                                      refresh_token=current.refresh_token.get_secret_value(),
                                      access_expires_at=0, expected_version=current.version)
    token = HubSpotTokenSource(portal, connections, leases, hubspot_oauth(hubspot)).token()
    assert token != current.access_token.get_secret_value()
    assert connections.get_hubspot(portal).access_token.get_secret_value() == token


def test_an_uninstalled_portal_is_marked_and_keeps_its_data(stores, fortnox, hubspot):
    svc = service(stores, fortnox, hubspot)
    portal = install(svc, hubspot)
    connect(svc, fortnox, portal)
    connections, leases, _, _ = stores
    hubspot_http(hubspot).post(f"/_sandbox/portals/{portal}/uninstall")
    current = connections.get_hubspot(portal)
    connections.update_hubspot_tokens(portal, access_token=current.access_token.get_secret_value(),
                                      refresh_token=current.refresh_token.get_secret_value(),
                                      access_expires_at=0, expected_version=current.version)
    with pytest.raises(ConnectionBrokenError):
        HubSpotTokenSource(portal, connections, leases, hubspot_oauth(hubspot)).token()
    assert connections.get_hubspot(portal).status == "uninstalled"
    assert portal not in connections.list_portals()
    assert connections.get_fortnox(portal) is not None


class FlakyStore(ConnectionStore):
    """The connection store, whose next token saves fail as a throttled DynamoDB write does."""

    failures = 0

    def update_fortnox_tokens(self, portal_id: str, **tokens):
        if self.failures:
            self.failures -= 1
            raise TransientError("DynamoDB throttled the write", code="THROTTLED")
        return super().update_fortnox_tokens(portal_id, **tokens)


def test_a_throttled_save_of_the_rotated_refresh_token_is_tried_again_not_lost(stores, fortnox, hubspot):
    svc = service(stores, fortnox, hubspot)
    portal = install(svc, hubspot)
    connect(svc, fortnox, portal)
    connections, leases, _, _ = stores
    expire(connections, portal)
    flaky = FlakyStore(connections._table, connections._cipher)
    flaky.failures = 2
    slept: list[float] = []
    FortnoxTokenSource(portal, flaky, leases, fortnox_oauth(fortnox), sleep=slept.append).token()
    assert len(slept) == 2 and refreshes(fortnox) == 1
    # The stored refresh token is the rotated one: the next refresh works.
    expire(connections, portal)
    FortnoxTokenSource(portal, connections, leases, fortnox_oauth(fortnox)).token()
    assert connections.get_fortnox(portal).status == "active"


def test_token_answers_never_show_their_tokens():
    from hubnox.fortnox.models import FortnoxTokens
    from hubnox.hubspot.models import HubSpotTokens

    for tokens in (HubSpotTokens(access_token="ACCESS-1", refresh_token="REFRESH-1", expires_in=1, expires_at=1),
                   FortnoxTokens(access_token="ACCESS-1", refresh_token="REFRESH-1", expires_in=1, expires_at=1)):
        shown = f"{tokens!r} {tokens}"
        assert "ACCESS-1" not in shown and "REFRESH-1" not in shown

"""Install and connections as a service on fakes: HubSpot and Fortnox OAuth over canned HTTP answers
(`FakeApi`), the stores in memory. An install or a sign-in finishes only in the browser that started it,
with a state that works once; a Fortnox company serves one portal; a disconnect revokes its grant."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from hubnox.errors import BadRequestError, UnauthorizedError
from hubnox.fortnox.client import COMPANY_INFORMATION, FortnoxClient
from hubnox.fortnox.oauth import REVOKE_PATH, TOKEN_PATH, FortnoxOAuth
from hubnox.hubspot import paths, properties
from hubnox.hubspot.client import HubSpotClient
from hubnox.hubspot.oauth import HubSpotOAuth
from hubnox.services.install import FORTNOX_SCOPES, STATE_TTL_SECONDS, ConnectionService, UninstallService
from hubnox.signing import Signer
from hubnox.store.connections import FortnoxAlreadyConnected, FortnoxCompanyTaken
from hubnox.tokens import StaticToken
from hubnox.web.session import Session, login_link, read_session
from tests.support.clock import FakeClock
from tests.support.fake_api import FakeApi, RecordingBudget
from tests.support.fakes import Connections, Cursors, Nonces, Sessions

BASE = "https://hubnox.example.com"
HUBSPOT = "https://app.hubspot.test"
FORTNOX = "https://apps.fortnox.test"
PORTAL, OTHER_PORTAL = "4242", "5353"
INSTALLER = "5"


class World:
    """The connection service over in-memory stores, and HubSpot and Fortnox answering as the admin consents:
    HubSpot for `hub_id` and `user_id`, Fortnox for the company `tenant`."""

    def __init__(self, *, service_account: bool = False) -> None:
        self.clock = FakeClock()
        self.connections, self.nonces, self.sessions = Connections(), Nonces(self.clock), Sessions()
        self.cursors = Cursors()
        self.signer = Signer("s" * 32, clock=self.clock)
        self.hub_id, self.user_id, self.tenant = PORTAL, INSTALLER, "7001"
        self.hubspot, self.fortnox = FakeApi(), FakeApi()
        self.hubspot.on("POST", re.escape(paths.OAUTH_TOKEN), lambda request, match: httpx.Response(200, json={
            "access_token": f"hs-access-{self.hub_id}", "refresh_token": "hs-refresh", "expires_in": 1800,
            "hub_id": int(self.hub_id)}))
        self.hubspot.on("POST", re.escape(paths.OAUTH_INTROSPECT), lambda request, match: httpx.Response(200, json={
            "active": True, "hub_id": int(self.hub_id), "user_id": int(self.user_id),
            "hub_domain": f"portal-{self.hub_id}.example.com", "scopes": ["oauth", "automation"]}))
        self.hubspot.on("POST", "/crm/properties/.*", httpx.Response(201, json={}))
        self.hubspot.on("GET", "/crm/properties/.*", httpx.Response(200, json={"results": []}))
        self.fortnox.on("POST", re.escape(TOKEN_PATH), lambda request, match: httpx.Response(200, json={
            "access_token": f"fx-access-{self.tenant}", "refresh_token": f"fx-refresh-{self.tenant}",
            "expires_in": 3600, "scope": " ".join(FORTNOX_SCOPES)}))
        self.fortnox.on("GET", re.escape(COMPANY_INFORMATION), lambda request, match: httpx.Response(200, json={
            "CompanyInformation": {"CompanyName": f"Company {self.tenant}", "DatabaseNumber": int(self.tenant)}}))
        self.fortnox.on("POST", re.escape(REVOKE_PATH), httpx.Response(200, json={"revoked": True}))
        hubspot_http = httpx.Client(transport=httpx.MockTransport(self.hubspot), base_url=HUBSPOT)
        fortnox_http = httpx.Client(transport=httpx.MockTransport(self.fortnox), base_url=FORTNOX)
        budget = RecordingBudget()
        self.service = ConnectionService(
            public_base=BASE, connections=self.connections, nonces=self.nonces, sessions=self.sessions,
            signer=self.signer,
            hubspot_oauth=HubSpotOAuth(hubspot_http, client_id="hs-client", client_secret="hs-secret",
                                       auth_url=HUBSPOT, clock=self.clock),
            fortnox_oauth=FortnoxOAuth(fortnox_http, client_id="fx-client", client_secret="fx-secret",
                                       auth_url=FORTNOX, clock=self.clock),
            hubspot_client=lambda portal, token: HubSpotClient(hubspot_http, StaticToken(token), budget, portal),
            fortnox_client=lambda tenant, token: FortnoxClient(fortnox_http, StaticToken(token), budget,
                                                               f"fx-client:{tenant}"),
            fortnox_service_account=service_account, cursors=self.cursors, clock=self.clock)

    def install(self, portal: str = PORTAL, user: str = INSTALLER):
        """An admin of `portal` installs hubnox from the install link and consents in the same browser."""
        self.hub_id, self.user_id = portal, user
        start = self.service.hubspot_install_url()
        return self.service.finish_hubspot_install("code", state_of(start.url), start.browser_secret)

    def connect(self, portal: str = PORTAL, tenant: str = "7001"):
        """The portal's admin connects the Fortnox company `tenant` from the settings page."""
        self.tenant = tenant
        session = Session(portal, "admin", "csrf")
        return self.service.finish_fortnox_connect("code", state_of(self.service.fortnox_connect_url(session)),
                                                   session)

    def revoked(self) -> list[str]:
        return [parse_qs(request.content.decode())["token"][0] for request in self.fortnox.requests("POST", "revoke")]


def state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


def scopes_of(url: str, name: str = "scope") -> set[str]:
    return set(parse_qs(urlsplit(url).query)[name][0].split())


@pytest.fixture
def world() -> World:
    return World()


# -- installing hubnox in HubSpot ----------------------------------------------------------------------


def test_the_install_link_asks_hubspot_for_hubnoxs_scopes_and_comes_back_to_hubnox(world):
    start = world.service.hubspot_install_url()

    query = parse_qs(urlsplit(start.url).query)
    assert start.url.startswith(f"{HUBSPOT}/oauth/authorize?")
    assert query["redirect_uri"] == [f"{BASE}/oauth/hubspot/callback"]
    assert {"automation", "files", "crm.objects.deals.write"} <= scopes_of(start.url)
    assert start.browser_secret and start.browser_secret not in start.url


def test_an_install_stores_the_portal_creates_the_app_properties_and_signs_its_browser_in(world):
    signed_in = world.install()

    stored = world.connections.get_hubspot(PORTAL)
    assert stored is not None
    assert (stored.status, stored.installed_by_user, stored.access_token.get_secret_value()) == (
        "active", INSTALLER, f"hs-access-{PORTAL}")
    assert world.connections.list_portals() == [PORTAL]
    created = {request.url.path for request in world.hubspot.requests("POST", "/crm/properties/")}
    assert {paths.property_groups(kind) for kind in properties.APP_PROPERTIES} <= created
    made = [request.read() for request in world.hubspot.requests("POST", "/crm/properties/")]
    assert any(b'"fortnox_document_balance"' in body for body in made)  # version 2's properties, at install
    assert any(b'"fortnox_overdue_amount"' in body for body in made)
    assert world.cursors.get(PORTAL, "app_properties") == str(properties.APP_PROPERTIES_VERSION)
    assert (signed_in.portal_id, signed_in.settings_url) == (PORTAL, f"{BASE}/settings")
    assert read_session(world.signer, world.sessions, [f"hubnox_session={signed_in.cookie.value}"]).portal_id == PORTAL


def test_installing_again_ends_every_session_the_portal_had_before(world):
    first = world.install()
    world.install()

    with pytest.raises(UnauthorizedError):
        read_session(world.signer, world.sessions, [f"hubnox_session={first.cookie.value}"])


def test_an_install_state_works_once(world):
    start = world.service.hubspot_install_url()
    world.service.finish_hubspot_install("code", state_of(start.url), start.browser_secret)

    with pytest.raises(BadRequestError, match="already used"):
        world.service.finish_hubspot_install("code", state_of(start.url), start.browser_secret)


def test_a_forged_or_expired_install_state_is_refused_before_hubspot_is_asked(world):
    start = world.service.hubspot_install_url()
    with pytest.raises(BadRequestError) as forged:
        world.service.finish_hubspot_install("code", state_of(start.url)[:-4] + "AAAA", start.browser_secret)
    world.clock.advance(STATE_TTL_SECONDS + 1)
    with pytest.raises(BadRequestError) as late:
        world.service.finish_hubspot_install("code", state_of(start.url), start.browser_secret)

    assert forged.value.code == late.value.code == "BAD_STATE"
    assert world.hubspot.exchanges == [] and world.connections.get_hubspot(PORTAL) is None


@pytest.mark.parametrize("browser_secret", [None, "another-browsers-secret"])
def test_a_finished_install_opened_in_another_browser_is_refused_and_its_state_spent(world, browser_secret):
    start = world.service.hubspot_install_url()

    with pytest.raises(BadRequestError, match="another browser"):
        world.service.finish_hubspot_install("code", state_of(start.url), browser_secret)
    with pytest.raises(BadRequestError, match="already used"):
        world.service.finish_hubspot_install("code", state_of(start.url), start.browser_secret)
    assert world.connections.get_hubspot(PORTAL) is None


# -- signing in from the app card's link ---------------------------------------------------------------


def login_token(world: World, portal: str = PORTAL, user_id: str = INSTALLER) -> str:
    link = login_link(world.signer, BASE, portal, "admin@acme.example", user_id)
    return parse_qs(urlsplit(link).query)["login"][0]


def test_a_login_link_signs_in_the_browser_whose_hubspot_user_it_names(world):
    world.install()
    start = world.service.begin_login(login_token(world))

    signed_in = world.service.finish_login("code", state_of(start.url), start.browser_secret)

    assert (signed_in.portal_id, signed_in.session.user) == (PORTAL, "admin@acme.example")
    assert world.service.is_login_state(state_of(start.url))
    assert world.connections.get_hubspot(PORTAL).access_token.get_secret_value() == f"hs-access-{PORTAL}"


def test_a_login_link_works_once(world):
    world.install()
    token = login_token(world)
    world.service.begin_login(token)

    with pytest.raises(UnauthorizedError) as used:
        world.service.begin_login(token)
    assert used.value.code == "LINK_USED"


def test_an_attackers_login_link_cannot_sign_in_a_victim_of_another_portal(world):
    world.install(OTHER_PORTAL)
    world.install(PORTAL)
    start = world.service.begin_login(login_token(world, OTHER_PORTAL))
    world.hub_id = PORTAL  # HubSpot signs the victim in, in their own portal

    with pytest.raises(UnauthorizedError) as refused:
        world.service.finish_login("code", state_of(start.url), start.browser_secret)
    assert refused.value.code == "WRONG_USER"


def users_api(world: World, answers: dict[str, httpx.Response]) -> None:
    """HubSpot's users API answering for each user id (`settings/users/2026-03/{id}`)."""
    world.hubspot.on("GET", r"/settings/users/2026-03/\d+", lambda request, match: answers[
        request.url.path.rsplit("/", 1)[1]])


def super_admin(user_id: str, flag: bool) -> httpx.Response:
    return httpx.Response(200, json={"id": user_id, "email": f"u{user_id}@acme.example", "superAdmin": flag,
                                     "roleIds": []})


def test_a_super_admin_who_did_not_install_hubnox_may_sign_in_asked_live(world):
    world.install(user=INSTALLER)
    users_api(world, {"99": super_admin("99", True)})
    start = world.service.begin_login(login_token(world, user_id="99"))
    world.user_id = "99"

    signed_in = world.service.finish_login("code", state_of(start.url), start.browser_secret)
    assert signed_in.portal_id == PORTAL
    asked = world.hubspot.requests("GET", "settings/users")
    assert [r.headers["authorization"] for r in asked] == [f"Bearer hs-access-{PORTAL}"]  # the sign-in's token


@pytest.mark.parametrize("answer", [super_admin("99", False), httpx.Response(404, json={
    "category": "OBJECT_NOT_FOUND", "correlationId": "c", "message": "No user"})])
def test_a_user_who_is_neither_installer_nor_super_admin_is_refused_with_the_reason(world, answer):
    world.install(user=INSTALLER)
    users_api(world, {"99": answer})
    start = world.service.begin_login(login_token(world, user_id="99"))
    world.user_id = "99"

    with pytest.raises(UnauthorizedError) as refused:
        world.service.finish_login("code", state_of(start.url), start.browser_secret)
    assert refused.value.code == "NOT_SUPER_ADMIN"
    assert "Only super admins of this HubSpot account can change hubnox's settings" in refused.value.message


def test_without_the_users_scope_only_the_installer_may_sign_in_and_the_page_says_why(world):
    world.install(user=INSTALLER)
    users_api(world, {"99": httpx.Response(403, json={
        "status": "error", "category": "MISSING_SCOPES", "correlationId": "c", "message": "missing scopes",
        "errors": [{"message": "m", "context": {"requiredGranularScopes": ["settings.users.read"]}}]})})
    start = world.service.begin_login(login_token(world, user_id="99"))
    world.user_id = "99"

    with pytest.raises(UnauthorizedError) as refused:
        world.service.finish_login("code", state_of(start.url), start.browser_secret)
    assert refused.value.code == "NOT_SUPER_ADMIN" and "settings.users.read" in (refused.value.hint or "")


def test_a_sign_in_interrupted_by_a_reinstall_is_refused(world):
    world.install()
    start = world.service.begin_login(login_token(world))
    world.install()

    with pytest.raises(UnauthorizedError) as refused:
        world.service.finish_login("code", state_of(start.url), start.browser_secret)
    assert refused.value.code == "SESSION_ENDED"


def test_a_sign_in_to_a_portal_that_uninstalled_hubnox_is_refused(world):
    world.install()
    start = world.service.begin_login(login_token(world))
    world.connections.mark_uninstalled(PORTAL)

    with pytest.raises(UnauthorizedError) as refused:
        world.service.finish_login("code", state_of(start.url), start.browser_secret)
    assert refused.value.code == "NOT_INSTALLED"


def test_reinstalling_through_oauth_after_an_uninstall_picks_the_portal_up_again(world):
    world.install()
    world.connect()
    UninstallService(connections=world.connections, sessions=world.sessions, clock=world.clock).uninstalled(
        PORTAL, "HubSpot sent app_uninstall")
    assert (world.connections.list_portals(), world.connections.uninstalled_portals()) == (
        [], {PORTAL: world.clock()})

    signed_in = world.install()

    stored = world.connections.get_hubspot(PORTAL)
    assert (stored.status, stored.uninstalled_at, stored.uninstall_reason) == ("active", None, None)
    assert stored.access_token.get_secret_value() == f"hs-access-{PORTAL}"
    assert world.connections.list_portals() == [PORTAL]
    assert world.connections.uninstalled_portals() == {}
    assert world.connections.get_fortnox(PORTAL).tenant_id == "7001"  # kept through the uninstall
    assert signed_in.portal_id == PORTAL  # the way back to the settings (and to deleting the data)


# -- connecting and disconnecting Fortnox --------------------------------------------------------------


def test_connect_asks_fortnox_for_every_scope_and_stores_the_company_it_learns(world):
    url = world.service.fortnox_connect_url(Session(PORTAL, "admin", "csrf"))
    assert scopes_of(url) == set(FORTNOX_SCOPES)
    assert "payment" in scopes_of(url)  # the status sync reads invoice payments

    connection = world.connect(tenant="7001")

    stored = world.connections.get_fortnox(PORTAL)
    assert stored == connection
    assert (stored.tenant_id, stored.company_name, stored.auth_mode) == ("7001", "Company 7001", "authorization_code")
    assert stored.refresh_token.get_secret_value() == "fx-refresh-7001"


def test_a_service_account_connect_asks_for_one_and_is_stored_as_client_credentials():
    world = World(service_account=True)
    url = world.service.fortnox_connect_url(Session(PORTAL, "admin", "csrf"))
    assert parse_qs(urlsplit(url).query)["account_type"] == ["service"]

    assert world.connect().auth_mode == "client_credentials"


def test_a_fortnox_connect_finishes_only_for_the_portal_that_started_it(world):
    state = state_of(world.service.fortnox_connect_url(Session(OTHER_PORTAL, "attacker", "csrf")))

    with pytest.raises(BadRequestError, match="another HubSpot portal"):
        world.service.finish_fortnox_connect("code", state, Session(PORTAL, "admin", "csrf"))
    assert world.connections.get_fortnox(PORTAL) is None and world.connections.get_fortnox(OTHER_PORTAL) is None


def test_a_connected_portal_must_disconnect_before_connecting_another_company(world):
    world.connect(tenant="7001")

    with pytest.raises(FortnoxAlreadyConnected):
        world.service.fortnox_connect_url(Session(PORTAL, "admin", "csrf"))

    world.service.disconnect_fortnox(Session(PORTAL, "admin", "csrf"))
    assert world.connect(tenant="7002").tenant_id == "7002"


def test_a_broken_connection_is_reconnected_in_one_step_and_its_tokens_replaced(world):
    world.connect(tenant="7001")
    world.connections.mark_broken(PORTAL, "fortnox", "Fortnox did not accept hubnox's access")
    world.fortnox.on("POST", re.escape(TOKEN_PATH), httpx.Response(200, json={
        "access_token": "fx-access-new", "refresh_token": "fx-refresh-new", "expires_in": 3600,
        "scope": " ".join(FORTNOX_SCOPES)}))

    url = world.service.fortnox_connect_url(Session(PORTAL, "admin", "csrf"))  # no disconnect first
    again = world.service.finish_fortnox_connect("code", state_of(url), Session(PORTAL, "admin", "csrf"))

    stored = world.connections.get_fortnox(PORTAL)
    assert stored is not None and stored == again
    assert (stored.tenant_id, stored.status, stored.broken_reason) == ("7001", "active", None)
    assert stored.refresh_token.get_secret_value() == "fx-refresh-new"
    assert world.revoked() == []


def test_a_reconnect_to_another_company_changes_nothing_and_says_to_disconnect_first(world):
    world.connect(tenant="7001")
    world.connections.mark_broken(PORTAL, "fortnox", "Fortnox did not accept hubnox's access")

    with pytest.raises(FortnoxAlreadyConnected) as refused:
        world.connect(tenant="7002")

    assert "Company 7002" in refused.value.message and "Company 7001" in refused.value.message
    assert refused.value.hint is not None and "disconnect Company 7001" in refused.value.hint
    stored = world.connections.get_fortnox(PORTAL)
    assert stored is not None and (stored.tenant_id, stored.status) == ("7001", "broken")
    assert world.revoked() == ["fx-refresh-7002"]  # the other company's new grant is not left behind


def test_a_second_connect_of_the_same_company_started_before_the_first_finished_replaces_its_tokens(world):
    session = Session(PORTAL, "admin", "csrf")
    first, second = (state_of(world.service.fortnox_connect_url(session)) for _ in range(2))
    world.service.finish_fortnox_connect("code", first, session)

    again = world.service.finish_fortnox_connect("code", second, session)

    assert (again.tenant_id, again.version) == ("7001", 2)
    assert world.revoked() == []


def test_a_company_another_portal_holds_is_refused_and_the_new_grant_revoked(world):
    world.connect(OTHER_PORTAL, tenant="7001")

    with pytest.raises(FortnoxCompanyTaken) as taken:
        world.connect(PORTAL, tenant="7001")

    assert taken.value.holder_portal_id == OTHER_PORTAL
    assert world.connections.get_fortnox(PORTAL) is None
    assert world.revoked() == ["fx-refresh-7001"]


def test_disconnecting_forgets_the_connection_revokes_its_grant_and_frees_the_company(world):
    world.connect(PORTAL, tenant="7001")

    removed = world.service.disconnect_fortnox(Session(PORTAL, "admin", "csrf"))

    assert removed is not None and removed.tenant_id == "7001"
    assert world.connections.get_fortnox(PORTAL) is None
    assert world.revoked() == ["fx-refresh-7001"]
    assert world.connect(OTHER_PORTAL, tenant="7001").portal_id == OTHER_PORTAL


def test_a_disconnect_still_forgets_the_connection_when_fortnox_refuses_the_revoke(world):
    world.connect()
    world.fortnox.on("POST", re.escape(REVOKE_PATH), httpx.Response(400, json={"error": "invalid_request"}))

    world.service.disconnect_fortnox(Session(PORTAL, "admin", "csrf"))

    assert world.connections.get_fortnox(PORTAL) is None


def test_disconnecting_a_portal_without_fortnox_does_nothing(world):
    assert world.service.disconnect_fortnox(Session(PORTAL, "admin", "csrf")) is None
    assert world.revoked() == []

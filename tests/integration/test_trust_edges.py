"""The edges of what hubnox promises about signed requests, sign-ins and saved settings: an Origin that is
no URL, a setting with a trailing newline, a stripped request in another case, a sign-in that outlives a
reinstall, and a v2-signed execution sent again long after HubSpot's deliveries end."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from hubnox.errors import UnauthorizedError
from hubnox.web.session import login_link
from tests.integration.test_connections import (  # noqa: F401 (fixtures)
    BASE,
    clients,
    consent_of,
    fortnox,
    hubspot,
    install,
    installer_of,
    service,
    stores,
)
from tests.integration.test_hubspot_auth import ACTION_URI, invoke_action, sdk_v2, simulated, world  # noqa: F401
from tests.integration.test_settings_api import app, ports, save  # noqa: F401 (fixtures)


def test_a_save_whose_origin_header_is_no_url_is_refused_as_another_site(app, ports):  # noqa: F811
    status, body = save(app, ports, 0, {}, headers={"Origin": "https://["})

    assert (status, body["code"]) == (401, "BAD_ORIGIN")


@pytest.mark.parametrize("settings", [
    {"articles": {"placeholder_article_number": "PH-1\n"}},
    {"customer_defaults": {"currency": "SEK\n"}},
    {"deal_fields": {"remarks": "description\n"}},
], ids=["placeholder-article-number", "currency", "property-name"])
def test_a_setting_with_a_trailing_newline_is_refused_when_saved(app, ports, settings):  # noqa: F811
    # Saved, "PH-1\n" would fail every deal that needs the placeholder article.
    status, body = save(app, ports, 0, settings)

    assert status == 400, body


def test_a_request_stripped_of_v3_is_refused_whatever_the_case_of_its_v2_hex(world):  # noqa: F811
    delivered = simulated(ACTION_URI, timestamp=world.clock.ms)
    assert invoke_action(world, delivered)["statusCode"] == 200
    world.jobs()

    world.clock.advance(6 * 60)
    stripped = {name: value.upper() if name.lower() == "x-hubspot-signature" else value
                for name, value in delivered.items()
                if name.lower() not in ("x-hubspot-signature-v3", "x-hubspot-request-timestamp")}
    replayed = invoke_action(world, stripped)

    assert (replayed["statusCode"], replayed["code"]) == (401, "SIGNATURE_REPLAYED")
    assert world.jobs() == []


def test_a_sign_in_started_before_another_user_reinstalls_gives_no_session(stores, fortnox, hubspot):  # noqa: F811
    # The installer opens the card's login link; before HubSpot sends the browser back, a colleague
    # installs hubnox again, becoming the installer and ending every session of the portal.
    svc = service(stores, fortnox, hubspot)
    connections, sessions = stores[0], stores[3]
    portal = install(svc, hubspot)
    old_installer = installer_of(stores, portal)
    link = login_link(svc._signer, BASE, portal, "old-admin@acme.example", old_installer)
    start = svc.begin_login(parse_qs(urlsplit(link).query)["login"][0])
    answer = consent_of(hubspot, start.url + f"&sandbox_portal={portal}")

    current = connections.get_hubspot(portal)
    connections.put_hubspot(current.model_copy(update={"installed_by_user": "70999999"}))
    sessions.end_all(portal)

    with pytest.raises(UnauthorizedError) as refused:
        svc.finish_login(**answer, browser_secret=start.browser_secret)
    assert refused.value.code in ("NOT_SUPER_ADMIN", "SESSION_ENDED")


def test_a_sign_in_started_before_the_portals_sessions_ended_gives_no_session(stores, fortnox, hubspot):  # noqa: F811
    svc = service(stores, fortnox, hubspot)
    sessions = stores[3]
    portal = install(svc, hubspot)
    link = login_link(svc._signer, BASE, portal, "admin@acme.example", installer_of(stores, portal))
    start = svc.begin_login(parse_qs(urlsplit(link).query)["login"][0])
    answer = consent_of(hubspot, start.url + f"&sandbox_portal={portal}")

    sessions.end_all(portal)  # the admin's data deleted while HubSpot had the browser

    with pytest.raises(UnauthorizedError) as refused:
        svc.finish_login(**answer, browser_secret=start.browser_secret)
    assert refused.value.code == "SESSION_ENDED"


@pytest.mark.parametrize("days", [9, 300])
def test_a_captured_v2_execution_sent_again_long_after_makes_no_second_run(world, days):  # noqa: F811
    # v2 has no timestamp, so a v2-signed execution verifies for ever; HubSpot stops delivering an
    # execution after 3 days and its callback waits a week, but its claim is kept for a year.
    captured = sdk_v2(ACTION_URI)
    assert invoke_action(world, captured)["statusCode"] == 200
    assert len(world.jobs()) == 1

    world.clock.advance(days * 24 * 3600)
    invoke_action(world, captured)

    assert world.jobs() == []

"""Requests that break what hubnox promises about signed requests, sessions and errors."""

from __future__ import annotations

import pytest

from tests.unit.test_settings_api import app, ports, save  # noqa: F401 (fixtures)


def test_a_save_whose_origin_header_is_no_url_is_refused_not_a_500(app, ports):  # noqa: F811
    # A signed-in admin's browser (or anything holding the cookie) sends an Origin that urlsplit
    # cannot read: check_csrf must refuse it as another site, never answer 500.
    status, body = save(app, ports, 0, {}, headers={"Origin": "https://["})

    assert status < 500, body
    assert (status, body["code"]) == (401, "BAD_ORIGIN")


@pytest.mark.parametrize("settings", [
    {"articles": {"placeholder_article_number": "PH-1\n"}},
    {"customer_defaults": {"currency": "SEK\n"}},
    {"deal_fields": {"remarks": "description\n"}},
], ids=["placeholder-article-number", "currency", "property-name"])
def test_a_setting_whose_pattern_ends_in_a_newline_is_refused_when_saved(app, ports, settings):  # noqa: F811
    # The settings' patterns end in `$` and are used with re.match, and `$` matches before a final
    # newline: "PH-1\n" is saved as the placeholder article (every deal needing it then fails in
    # fortnox_article_number), "SEK\n" as the currency, "description\n" as a HubSpot property name.
    status, body = save(app, ports, 0, settings)

    assert status == 400, body


# -- a v2+v3 request stripped of v3 -----------------------------------------------------------------------

from tests.unit.test_hubspot_auth import ACTION_URI, invoke_action, simulated, world  # noqa: E402,F401


def test_a_request_stripped_of_v3_is_refused_whatever_the_case_of_its_v2_hex(world):  # noqa: F811
    # verify_v2 lower-cases the hex it compares, but the ledger remembers the v2 signature as sent,
    # so the same v2 signature in upper case is a "new" one and the stripped request passes.
    delivered = simulated(ACTION_URI, timestamp=world.clock.ms)
    assert invoke_action(world, delivered)["statusCode"] == 200
    world.jobs()

    world.clock.advance(6 * 60)
    stripped = {name: value for name, value in delivered.items()
                if name.lower() not in ("x-hubspot-signature-v3", "x-hubspot-request-timestamp")}
    stripped = {name: value.upper() if name.lower() == "x-hubspot-signature" else value
                for name, value in stripped.items()}
    replayed = invoke_action(world, stripped)

    assert (replayed["statusCode"], replayed["code"]) == (401, "SIGNATURE_REPLAYED")


# -- a sign-in started before a reinstall ---------------------------------------------------------------

from urllib.parse import parse_qs, urlsplit  # noqa: E402

from hubnox.web.session import login_link, read_session  # noqa: E402
from tests.unit.test_connections import (  # noqa: E402,F401 (fixtures)
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


def test_a_sign_in_started_before_another_user_reinstalls_gives_no_session(stores, fortnox, hubspot):  # noqa: F811
    # The installer opens the card's login link; before HubSpot sends the browser back, a colleague
    # installs hubnox again (so the colleague is now the installer and every session of the
    # portal ends). Only the installer may sign in, and the reinstall ends what came before, yet the
    # old installer's sign-in still finishes into a session of the new generation.
    svc = service(stores, fortnox, hubspot)
    connections, sessions = stores[0], stores[3]
    portal = install(svc, hubspot)
    old_installer = installer_of(stores, portal)
    link = login_link(svc._signer, BASE, portal, "old-admin@acme.example", old_installer)
    start = svc.begin_login(parse_qs(urlsplit(link).query)["login"][0])
    answer = consent_of(hubspot, start.url + f"&sandbox_portal={portal}")

    # What finish_hubspot_install leaves behind when another user of the portal installs hubnox again.
    current = connections.get_hubspot(portal)
    connections.put_hubspot(current.model_copy(update={"installed_by_user": "70999999"}))
    sessions.end_all(portal)

    try:
        signed_in = svc.finish_login(**answer, browser_secret=start.browser_secret)
    except Exception:  # refused: what the reinstall promises
        return
    cookie = [f"hubnox_session={signed_in.cookie.value}"]
    session = read_session(svc._signer, sessions, cookie)
    raise AssertionError(f"the former installer {old_installer} got a live session of portal "
                         f"{session.portal_id} after the reinstall by another user")


# -- a v2-only execution captured once ------------------------------------------------------------------

from tests.unit.test_hubspot_auth import sdk_v2  # noqa: E402


def test_a_captured_v2_execution_sent_again_after_eight_days_makes_no_second_run(world):  # noqa: F811
    # v2 has no timestamp, so a v2-signed execution verifies for ever; what stops it acting twice is
    # the callbackId claim, kept 8 days (CALLBACK_CLAIM_TTL_SECONDS). HubSpot never delivers an
    # execution after its week of BLOCK, yet the same bytes sent on day 9 record and queue a new run.
    captured = sdk_v2(ACTION_URI)
    assert invoke_action(world, captured)["statusCode"] == 200
    assert len(world.jobs()) == 1

    world.clock.advance(8 * 24 * 3600 + 1)
    invoke_action(world, captured)

    assert world.jobs() == []

"""Requests that break what hubnox promises about signed requests, sessions and errors."""

from __future__ import annotations

from tests.unit.test_settings_api import app, ports, save  # noqa: F401 (fixtures)


def test_a_save_whose_origin_header_is_no_url_is_refused_not_a_500(app, ports):  # noqa: F811
    # A signed-in admin's browser (or anything holding the cookie) sends an Origin that urlsplit
    # cannot read: check_csrf must refuse it as another site, never answer 500.
    status, body = save(app, ports, 0, {}, headers={"Origin": "https://["})

    assert status < 500, body
    assert (status, body["code"]) == (401, "BAD_ORIGIN")


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

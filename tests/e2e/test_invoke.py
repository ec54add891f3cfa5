"""`make invoke` (python -m sandbox.invoke), end to end: every sample event in events/ goes to the
function template.yaml routes it to, through the same code path as the command (`sandbox.invoke.invoke`
on the local stack, each handler under its IAM role), and gets the answer declared for it below; each
event that carries a signature is refused with a 401 when sent as stored (`--no-sign`)."""

from __future__ import annotations

import pytest

from sandbox.gateway import REPO_ROOT
from sandbox.invoke import (
    Target,
    answer_status,
    ensure_sample_portal,
    from_stack,
    function_for_event,
    invoke,
    load_event,
    main,
    signed_kind,
)
from tests.e2e.conftest import LocalStack

pytestmark = pytest.mark.e2e

EVENTS = REPO_ROOT / "events"

#: Each sample event's answer on a stack where the sample portal is installed and connected but holds
#: none of the events' records (deal 904, the runs): the answer re-signed, then as stored (`--no-sign`;
#: None for an event that carries no signature). Re-signed, HubSpot's and Replay's events pass their
#: checks and get hubnox's answer for what does not exist; as stored, they are refused. In this order:
#: the later ones change the portal.
EXPECTED: dict[str, tuple[int | str, int | str | None]] = {
    "crm_card_fetch.json": (200, 401),  # the card: "HubSpot has no deal 904"
    "crm_card_action_create_document.json": (200, 401),  # a run is queued; the worker then finds no deal
    "workflow_action_options.json": (200, 401),  # Fortnox's print templates
    "workflow_action_create_document.json": (200, 401),  # BLOCK: hubnox calls back when the run ends
    "workflow_action_sync_customer.json": (200, 401),
    "webhooks_deal_stage.json": (200, 401),  # received, ignored (no such deal in the portal)
    "replay_confirm.json": (404, 401),  # a genuine link to a run the portal does not have
    "replay_submit.json": (404, 401),
    "worker_sqs.json": ("2 retried", None),  # both jobs name runs that do not exist: back to the queue
    "poller_schedule.json": ("ok", None),
    "settings_static.json": (200, 200),  # static files need no session: the cookie only comes along
    "settings_page.json": (303, 401),  # the login link: on to HubSpot's consent to prove the user
    "settings_log.json": (200, 401),
    "settings_api_put.json": (200, 401),  # version 0 saved as version 1
    "oauth_hubspot_install.json": (302, None),  # to HubSpot's consent page
    "oauth_hubspot_callback.json": (400, None),  # its OAuth state is of a consent that never happened
    "oauth_fortnox_callback.json": (400, 401),
    "oauth_fortnox_connect.json": (409, 401),  # the portal is connected already
    "oauth_fortnox_disconnect.json": (303, 401),  # disconnected, back to the settings page
}


@pytest.fixture(scope="module")
def target(stack: LocalStack) -> Target:
    target = from_stack(stack.running)
    ensure_sample_portal(target)
    return target


def test_every_event_has_an_expected_answer() -> None:
    on_disk = sorted(path.name for path in EVENTS.glob("*.json"))
    assert sorted(EXPECTED) == on_disk, "declare each events/ file's answer in EXPECTED"


def test_every_function_has_an_event() -> None:
    routed = {function_for_event(load_event(EVENTS / name)) for name in EXPECTED}
    assert routed == {"crm_card", "oauth", "poller", "replay", "settings", "webhooks", "worker",
                      "workflow_action"}


def test_each_signed_event_sent_as_stored_is_refused(target: Target) -> None:
    as_stored = {}
    for name, (_, expected) in EXPECTED.items():
        event = load_event(EVENTS / name)
        assert (expected is None) == (signed_kind(event) is None), f"{name}: declare its answer as stored"
        if expected is not None:
            as_stored[name] = answer_status(invoke(target, function_for_event(event), event, sign=False))
    assert as_stored == {name: stored for name, (_, stored) in EXPECTED.items() if stored is not None}
    assert sum(answer == 401 for answer in as_stored.values()) >= 13


def test_each_event_gets_its_answer(target: Target) -> None:
    answers = {}
    for name in EXPECTED:
        event = load_event(EVENTS / name)
        answers[name] = answer_status(invoke(target, function_for_event(event), event))
    assert answers == {name: answer for name, (answer, _) in EXPECTED.items()}


def test_the_command_prints_the_answer(target: Target, stack: LocalStack, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m sandbox.invoke FN EVENT` on a running stack prints status, headers and the JSON body."""
    monkeypatch.setattr("sandbox.invoke.open_target", lambda url=None: target)
    monkeypatch.setattr(Target, "close", lambda self: None)
    assert main(["crm_card", str(EVENTS / "crm_card_fetch.json")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("status 200\n"), out[:300]
    assert "Content-Type: application/json\n\n{\n  \"state\": " in out, out[:300]  # the card's JSON, pretty
    assert main(["crm_card", str(EVENTS / "crm_card_fetch.json"), "--no-sign"]) == 0
    assert capsys.readouterr().out.startswith("status 401\n")

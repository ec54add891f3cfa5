"""`python -m sandbox.invoke` without a stack: the re-signed sample events pass hubnox's own checks (its
code in the layer, written apart from the sandbox's signing), a stale one does not, and the env-vars
file for `sam local invoke` carries only what SAM can set (the secrets go by name, through the stack's
Secrets Manager)."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

import pytest

from hubnox.config import _SECRET_FIELDS
from hubnox.errors import UnauthorizedError
from hubnox.hubspot.signature import verify_event
from hubnox.links import verify_replay
from hubnox.signing import Signer
from hubnox.web.session import read_session
from sandbox.gateway import REPO_ROOT, read_template
from sandbox.invoke import (
    SECRET_VARIABLES,
    declared_variables,
    load_event,
    logical_id,
    resign_hubspot,
    resign_replay,
    resign_session,
    sam_command,
    sam_environment,
    signed_kind,
    template_secrets_name,
)

EVENTS = REPO_ROOT / "events"
SECRET = "an-operators-client-secret"
BASE = "http://127.0.0.1:19777"
KEY = "a-stack-signing-key-of-some-length"
HUBSPOT_SIGNED = ["crm_card_fetch.json", "crm_card_action_create_document.json", "webhooks_deal_stage.json",
                  "workflow_action_options.json", "workflow_action_create_document.json",
                  "workflow_action_sync_customer.json"]


@pytest.mark.parametrize("name", HUBSPOT_SIGNED)
def test_a_resigned_hubspot_event_passes_hubnox_check(name: str) -> None:
    event = load_event(EVENTS / name)
    assert signed_kind(event) == "hubspot"
    now_ms = 1_900_000_000_000
    signed = resign_hubspot(event, client_secret=SECRET, public_base_url=BASE, now_ms=now_ms)
    assert verify_event(signed, client_secret=SECRET, public_base_url=BASE, now_ms=now_ms + 1000) in ("v2", "v3")
    with pytest.raises(UnauthorizedError):
        verify_event(event, client_secret=SECRET, public_base_url=BASE, now_ms=now_ms)
    with pytest.raises(UnauthorizedError):  # signed for another secret
        verify_event(signed, client_secret="another-secret", public_base_url=BASE, now_ms=now_ms)


@pytest.mark.parametrize("name", ["replay_confirm.json", "replay_submit.json"])
def test_a_resigned_replay_link_is_genuine_for_the_same_run(name: str) -> None:
    event = load_event(EVENTS / name)
    signed = resign_replay(event, signing_key=KEY)
    token = (signed.get("queryStringParameters") or {}).get("t")
    if token is None:
        token = parse_qs(base64.b64decode(signed["body"]).decode())["t"][0]
    assert verify_replay(Signer(KEY), token, "01JDQ7Z5M3X8R2K9V4T6W0B1C7") == "102670506"


class Ledger:
    def generation(self, portal_id: str) -> int:
        return 3

    def ended(self, session_id: str) -> bool:
        return False


def test_a_resigned_session_is_current_and_carries_its_csrf_token() -> None:
    event = load_event(EVENTS / "settings_api_put.json")
    signed = resign_session(event, signing_key=KEY, public_base_url=BASE, generation=lambda portal: 3)
    session = read_session(Signer(KEY), Ledger(), signed["cookies"])
    assert (session.portal_id, session.generation) == ("102670506", 3)
    assert signed["headers"]["x-csrf-token"] == session.csrf
    assert signed["headers"]["origin"] == BASE


def test_the_sam_env_file_holds_only_declared_variables() -> None:
    environment = {"TABLE_NAME": "hubnox-Table", "AWS_ENDPOINT_URL": "http://127.0.0.1:19703",
                   "HUBSPOT_API_URL": "http://127.0.0.1:19701", "PUBLIC_BASE_URL": "http://127.0.0.1:19700",
                   "HUBSPOT_CLIENT_SECRET": SECRET, "AWS_REGION": "eu-north-1",
                   "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:19704"}
    variables, left_out = sam_environment(environment, secrets_name="hubnox/secrets")
    assert variables["Parameters"]["HUBSPOT_API_URL"] == "http://host.docker.internal:19701"
    assert variables["Parameters"]["AWS_ENDPOINT_URL"] == "http://host.docker.internal:19703"
    assert variables["Parameters"]["PUBLIC_BASE_URL"] == "http://127.0.0.1:19700"
    assert variables["Parameters"]["SECRETS_NAME"] == "hubnox/secrets"
    assert SECRET not in json.dumps(variables)  # the secrets travel through Secrets Manager
    assert left_out == ["AWS_ENDPOINT_URL_DYNAMODB"]  # AWS_REGION: sam sets it from --region
    assert set(variables["Parameters"]) <= declared_variables()


def test_without_a_stored_secret_the_sam_env_file_names_the_secrets_it_lacks() -> None:
    variables, left_out = sam_environment({"HUBSPOT_CLIENT_SECRET": SECRET, "SIGNING_KEY": KEY})
    assert variables["Parameters"] == {"SECRETS_NAME": ""}
    assert left_out == ["HUBSPOT_CLIENT_SECRET", "SIGNING_KEY"]


def test_the_stored_secret_has_the_shape_a_deployment_reads() -> None:
    assert {name.lower() for name in SECRET_VARIABLES} == set(_SECRET_FIELDS)
    assert template_secrets_name() == "hubnox/secrets"


def test_the_sam_command_overrides_the_endpoint_parameter_for_the_container() -> None:
    command = sam_command({"AWS_ENDPOINT_URL": "http://127.0.0.1:8003", "AWS_REGION": "eu-north-1"},
                          function=logical_id("crm_card"), event="signed.json")
    assert command == ("sam local invoke CrmCardFunction -e signed.json --env-vars env.json --region eu-north-1 "
                       "--parameter-overrides LocalAwsEndpointUrl=http://host.docker.internal:8003")
    assert "LocalAwsEndpointUrl" in read_template()["Parameters"]

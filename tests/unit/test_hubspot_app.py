"""The HubSpot project in hubspot-app/: the files HubSpot reads name exactly what the backend serves
(routes, scopes, the OAuth callback, the card's actions), and they follow the deployment's URL."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import typing
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from hubnox.services.card.actions import CARD_ACTIONS
from hubnox.services.card.service import CardState
from hubnox.services.install import HUBSPOT_CALLBACK_PATH, HUBSPOT_OPTIONAL_SCOPES, HUBSPOT_SCOPES
from hubnox.sync.reporting import CallbackOutputs
from sandbox.gateway import functions_from_template, read_template

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "hubspot-app"
CARDS = APP / "src" / "app" / "cards"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hubnox_hsmeta", APP / "hsmeta.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hsmeta = load_generator()
DEPLOYMENT = hsmeta.load_deployment()
BASE = DEPLOYMENT["publicBaseUrl"]


def committed(relative: str) -> Any:
    return json.loads((APP / relative).read_text(encoding="utf-8"))


def routes_of(function: str) -> set[str]:
    spec = functions_from_template(read_template())[function]
    return {f"{route.method} {route.path}" for route in spec.routes}


def constants_of(path: Path) -> dict[str, Any]:
    """The module-level string constants of a Python file, read without importing it."""
    found: dict[str, Any] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value.value
    return found


def ts_union(name: str) -> set[str]:
    """The string members of a TypeScript union type in hubnox.ts."""
    source = (CARDS / "hubnox.ts").read_text(encoding="utf-8")
    block = re.search(rf"export type {name} =(.*?);", source, re.DOTALL)
    assert block is not None
    return set(re.findall(r"'([^']+)'", block.group(1)))


def ts_constant(name: str) -> str:
    source = (CARDS / "hubnox.ts").read_text(encoding="utf-8")
    match = re.search(rf"export const {name} = '([^']*)';", source)
    assert match is not None
    return match.group(1)


def test_the_committed_project_files_are_what_the_script_writes_for_the_deployment():
    assert hsmeta.stale(hsmeta.project_files(DEPLOYMENT)) == []


def test_the_app_asks_for_exactly_the_scopes_the_install_link_asks_for():
    auth = committed("src/app/app-hsmeta.json")["config"]["auth"]
    assert auth["type"] == "oauth"
    assert auth["requiredScopes"] == list(HUBSPOT_SCOPES)
    assert auth["optionalScopes"] == list(HUBSPOT_OPTIONAL_SCOPES)


def test_the_redirect_url_is_the_oauth_callback_the_backend_serves():
    auth = committed("src/app/app-hsmeta.json")["config"]["auth"]
    assert auth["redirectUrls"] == [f"{BASE}{HUBSPOT_CALLBACK_PATH}"]
    assert f"GET {HUBSPOT_CALLBACK_PATH}" in routes_of("oauth")


def test_the_card_may_fetch_the_card_routes_only_and_calls_the_routes_the_crm_card_function_serves():
    permitted = committed("src/app/app-hsmeta.json")["config"]["permittedUrls"]["fetch"]
    assert permitted == [f"{BASE}{ts_constant('CARD_PATH')}", f"{BASE}{ts_constant('CARD_ACTIONS_PATH')}"]
    # A fetch is signed like a workflow request: no permitted URL may lead to another function's route.
    others = {path for function in ("workflow_action", "oauth", "replay", "settings")
              for path in (route.split(" ", 1)[1] for route in routes_of(function))}
    assert not [path for path in others for url in permitted if f"{BASE}{path}".startswith(url)]
    card_routes = routes_of("crm_card")
    assert f"GET {ts_constant('CARD_PATH')}" in card_routes
    assert f"POST {ts_constant('CARD_ACTIONS_PATH')}{{action}}" in card_routes
    assert (CARDS / "config.ts").read_text(encoding="utf-8").endswith(f'"{BASE}";\n')


def test_the_card_knows_every_action_and_state_the_backend_answers():
    assert ts_union("CardActionName") == set(CARD_ACTIONS)
    assert ts_union("CardState") == set(typing.get_args(CardState))


def test_the_card_shows_on_deals_companies_and_contacts_from_an_entrypoint_that_exists():
    config = committed("src/app/cards/card-hsmeta.json")["config"]
    assert config["objectTypes"] == ["deals", "companies", "contacts"]
    assert (APP / "src" / config["entrypoint"].lstrip("/")).is_file()


@pytest.mark.parametrize(("name", "object_types"), [
    ("create-fortnox-document", ["DEAL"]), ("sync-fortnox-customer", ["COMPANY", "CONTACT"])])
def test_each_workflow_action_posts_to_a_route_the_workflow_action_function_serves(name, object_types):
    config = committed(f"src/app/workflow-actions/{name}-hsmeta.json")["config"]
    assert config["objectTypes"] == object_types
    served = routes_of("workflow_action")
    urls = [config["actionUrl"]] + [field["typeDefinition"]["optionsUrl"] for field in config["inputFields"]]
    for url in urls:
        assert url.startswith(BASE) and f"POST {url[len(BASE):]}" in served


@pytest.mark.parametrize("name", ["create-fortnox-document", "sync-fortnox-customer"])
def test_every_execution_rule_has_its_message_and_speaks_of_outputs_the_action_declares(name):
    config = committed(f"src/app/workflow-actions/{name}-hsmeta.json")["config"]
    outputs = {field["typeDefinition"]["name"] for field in config["outputFields"]}
    labels = config["labels"]["en"]
    assert [rule["labelName"] for rule in config["executionRules"]] == list(labels["executionRules"])
    for rule in config["executionRules"]:
        assert set(rule["conditions"]) <= outputs | {"hs_execution_state"}
    for message in labels["executionRules"].values():
        assert set(re.findall(r"{{\s*(\w+)\s*}}", message)) <= outputs
    assert set(labels["outputFieldLabels"]) == outputs


def test_the_action_fields_are_the_ones_the_workflow_action_function_reads_and_answers():
    handler = constants_of(REPO / "layers" / "core" / "hubnox" / "services" / "workflows.py")
    create = committed("src/app/workflow-actions/create-fortnox-document-hsmeta.json")["config"]
    inputs = [field["typeDefinition"]["name"] for field in create["inputFields"]]
    assert inputs == [handler["DOCUMENT_TYPE_INPUT"], handler["PRINT_TEMPLATE_INPUT"]]
    outputs = {field["typeDefinition"]["name"] for field in create["outputFields"]}
    assert {handler["ERROR_CODE_OUTPUT"], handler["ERROR_MESSAGE_OUTPUT"]} <= outputs
    not_connected = create["executionRules"][0]["conditions"][handler["ERROR_CODE_OUTPUT"]]
    assert not_connected == [handler["NO_FORTNOX_CODE"]]


@pytest.mark.parametrize(("name", "completed_with"), [
    ("create-fortnox-document", {CallbackOutputs.DOCUMENT_NUMBER, CallbackOutputs.DOCUMENT_TYPE,
                                 CallbackOutputs.CUSTOMER_NUMBER, CallbackOutputs.ERROR_CODE,
                                 CallbackOutputs.ERROR_MESSAGE}),
    ("sync-fortnox-customer", {CallbackOutputs.CUSTOMER_NUMBER, CallbackOutputs.ERROR_CODE,
                               CallbackOutputs.ERROR_MESSAGE}),
])
def test_each_action_declares_the_outputs_the_worker_completes_its_callbacks_with(name, completed_with):
    config = committed(f"src/app/workflow-actions/{name}-hsmeta.json")["config"]
    assert {field["typeDefinition"]["name"] for field in config["outputFields"]} == completed_with


def test_the_webhooks_post_deal_stage_changes_to_the_route_the_webhooks_function_serves():
    config = committed("src/app/webhooks/webhooks-hsmeta.json")["config"]
    assert config["settings"]["targetUrl"] == f"{BASE}/hubspot/webhooks"
    assert "POST /hubspot/webhooks" in routes_of("webhooks")
    assert config["subscriptions"]["crmObjects"] == [{"subscriptionType": "object.propertyChange",
                                                      "objectType": "deal", "propertyName": "dealstage",
                                                      "active": True}]


def test_the_script_writes_every_url_for_another_deployment(tmp_path):
    other = {**DEPLOYMENT, "publicBaseUrl": "https://fortnox.acme.se/prod"}
    files = hsmeta.project_files(other)
    assert sorted(hsmeta.write(files, tmp_path)) == sorted(files)
    text = "".join((tmp_path / relative).read_text(encoding="utf-8") for relative in files)
    assert "hubnox.example.com" not in text
    action = json.loads((tmp_path / "src/app/workflow-actions/create-fortnox-document-hsmeta.json").read_text())
    assert action["config"]["actionUrl"] == "https://fortnox.acme.se/prod/hubspot/actions/create-document"
    assert hsmeta.write(files, tmp_path) == []  # nothing changes the second time
    assert hsmeta.stale(hsmeta.project_files(DEPLOYMENT), tmp_path) != []


@pytest.mark.parametrize("url", ["http://hubnox.example.com", "https://hubnox.example.com/", "hubnox.example.com"])
def test_the_script_refuses_a_base_url_hubspot_would_not_call(tmp_path, url):
    deployment = tmp_path / "deployment.json"
    deployment.write_text(json.dumps({**DEPLOYMENT, "publicBaseUrl": url}))
    with pytest.raises(SystemExit):
        hsmeta.load_deployment(deployment)


def test_the_card_package_pins_what_the_lock_file_holds():
    package = json.loads((CARDS / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((CARDS / "package-lock.json").read_text(encoding="utf-8"))
    assert package["scripts"]["typecheck"].startswith("tsc --noEmit")
    wanted = {**package["dependencies"], **package["devDependencies"]}
    assert set(wanted) == {"@hubspot/ui-extensions", "react", "typescript", "@types/react"}
    for name, version in wanted.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version

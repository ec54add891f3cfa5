"""Write hubnox's HubSpot project files for one deployment of the backend.

HubSpot's project files name the backend's public URL (the OAuth redirect URL, the workflow
actions' `actionUrl` and `optionsUrl`, the URLs the card may fetch), and that URL differs per
deployment. It lives in one place, `deployment.json` beside this script; the script derives
everything else from it and from hubnox itself (the scopes in `hubnox.services.install`, the routes in
`template.yaml`), so the project and the backend cannot drift apart.

    .venv/bin/python hubspot-app/hsmeta.py                          write the files for deployment.json
    .venv/bin/python hubspot-app/hsmeta.py --base-url https://x.y   set the URL there, then write
    .venv/bin/python hubspot-app/hsmeta.py --check                  exit 1 if a file is out of date

(The project's virtual environment has hubnox's dependencies; `make app-check` runs the check.)
Then deploy the project with the HubSpot CLI from this folder (`hs project upload`).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

APP_DIR = Path(__file__).resolve().parent
REPO_ROOT = APP_DIR.parent
DEPLOYMENT_FILE = APP_DIR / "deployment.json"
PLATFORM_VERSION = "2026.03"

#: the same rule as template.yaml's PublicBaseUrl: HubSpot calls only https URLs
BASE_URL_PATTERN = re.compile(r"^https://[^/\s]+(/[^\s]*[^/\s])?$")

# The routes HubSpot calls; template.yaml serves them (the tests hold both to the same list).
CREATE_DOCUMENT_PATH = "/hubspot/actions/create-document"
SYNC_CUSTOMER_PATH = "/hubspot/actions/sync-customer"
OPTIONS_PATH = "/hubspot/actions/options"
WEBHOOKS_PATH = "/hubspot/webhooks"

# The workflow actions' fields: what the workflow_action function reads and the worker answers.
DOCUMENT_TYPE_INPUT = "documentType"
PRINT_TEMPLATE_INPUT = "printTemplate"
DOCUMENT_NUMBER_OUTPUT = "documentNumber"
DOCUMENT_TYPE_OUTPUT = "documentType"
CUSTOMER_NUMBER_OUTPUT = "customerNumber"
ERROR_CODE_OUTPUT = "errorCode"
ERROR_MESSAGE_OUTPUT = "errorMessage"
NOT_CONNECTED_CODE = "FORTNOX_NOT_CONNECTED"


def _hubnox(module: str) -> Any:
    """A module of hubnox, from the layer in this repository when hubnox is not importable already."""
    if importlib.util.find_spec("hubnox") is None:
        # Run as a plain script: the layer is not installed, it sits in layers/core.
        sys.path.insert(0, str(REPO_ROOT / "layers" / "core"))
    return importlib.import_module(f"hubnox.{module}")


def load_deployment(path: Path = DEPLOYMENT_FILE) -> dict[str, Any]:
    """The deployment settings, with the base URL checked."""
    deployment = json.loads(path.read_text(encoding="utf-8"))
    base = str(deployment.get("publicBaseUrl", ""))
    if not BASE_URL_PATTERN.match(base):
        raise SystemExit(f"{path.name}: publicBaseUrl must be an https URL without a trailing slash, not {base!r}")
    return deployment


# -- the files ---------------------------------------------------------------------------------------


#: what the app card may fetch: GET /hubspot/card and POST /hubspot/card/actions/{action}, nothing else
CARD_FETCH_PATHS = ("/hubspot/card", "/hubspot/card/actions/")


def project_config(deployment: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": deployment.get("projectName", "hubnox"), "srcDir": "src", "platformVersion": PLATFORM_VERSION}


def app_config(deployment: Mapping[str, Any]) -> dict[str, Any]:
    """`src/app/app-hsmeta.json`: OAuth with hubnox's scopes, its callback, and what the card may fetch."""
    connections = _hubnox("services.install")
    base = deployment["publicBaseUrl"]
    config: dict[str, Any] = {
        "description": deployment.get("appDescription", "HubSpot deals to Fortnox invoices and orders."),
        "name": deployment.get("appName", "hubnox"),
        "distribution": deployment.get("distribution", "private"),
        "auth": {
            "type": "oauth",
            "redirectUrls": [f"{base}{connections.HUBSPOT_CALLBACK_PATH}"],
            "requiredScopes": list(connections.HUBSPOT_SCOPES),
            "optionalScopes": list(connections.HUBSPOT_OPTIONAL_SCOPES),
            "conditionallyRequiredScopes": [],
        },
        # The card's routes only: a fetch is signed like a workflow request, so the card must not
        # reach the action URLs (the backend refuses them too).
        "permittedUrls": {"fetch": [f"{base}{path}" for path in CARD_FETCH_PATHS], "iframe": [], "img": []},
    }
    if deployment.get("support"):
        config["support"] = dict(deployment["support"])
    return {"uid": "hubnox_app", "type": "app", "config": config}


def _text_output(name: str) -> dict[str, Any]:
    return {"typeDefinition": {"name": name, "type": "string", "fieldType": "text"}}


def _options_input(name: str, base: str) -> dict[str, Any]:
    return {
        "typeDefinition": {"name": name, "type": "enumeration", "fieldType": "select",
                           "optionsUrl": f"{base}{OPTIONS_PATH}"},
        "supportedValueTypes": ["STATIC_VALUE"],
        "isRequired": False,
    }


#: rules are tried in order; the first whose conditions match the output fields labels the history
_FAILURE_RULES = [
    {"labelName": "fortnoxNotConnected", "conditions": {ERROR_CODE_OUTPUT: [NOT_CONNECTED_CODE]}},
    {"labelName": "failed", "conditions": {"hs_execution_state": ["FAIL_CONTINUE"]}},
]


def create_document_action(deployment: Mapping[str, Any]) -> dict[str, Any]:
    """The deal workflow action that makes a Fortnox invoice or order."""
    base = deployment["publicBaseUrl"]
    return {
        "uid": "hubnox_create_fortnox_document",
        "type": "workflow-action",
        "config": {
            "actionUrl": f"{base}{CREATE_DOCUMENT_PATH}",
            "isPublished": True,
            "supportedClients": [{"client": "WORKFLOWS"}],
            "objectTypes": ["DEAL"],
            "objectRequestOptions": {"properties": ["dealname", _hubnox("hubspot.properties").DOCUMENT_NUMBER]},
            "inputFields": [_options_input(DOCUMENT_TYPE_INPUT, base), _options_input(PRINT_TEMPLATE_INPUT, base)],
            "outputFields": [_text_output(name) for name in (
                DOCUMENT_NUMBER_OUTPUT, DOCUMENT_TYPE_OUTPUT, CUSTOMER_NUMBER_OUTPUT, ERROR_CODE_OUTPUT,
                ERROR_MESSAGE_OUTPUT)],
            "executionRules": [*_FAILURE_RULES,
                               {"labelName": "created", "conditions": {"hs_execution_state": ["SUCCESS"]}}],
            "labels": {"en": {
                "actionName": "Create Fortnox document",
                "appDisplayName": "hubnox",
                "actionDescription": "Creates a draft Fortnox invoice or order from the deal, its line items and "
                                     "its company or contact. A deal gets one document per workflow, however "
                                     "often it is enrolled.",
                "actionCardContent": "Create a Fortnox {{documentType}}",
                "inputFieldLabels": {DOCUMENT_TYPE_INPUT: "Document type", PRINT_TEMPLATE_INPUT: "Print template"},
                "inputFieldDescriptions": {
                    DOCUMENT_TYPE_INPUT: "Invoice, order, or the default from the hubnox settings.",
                    PRINT_TEMPLATE_INPUT: "The Fortnox print template; empty for the default.",
                },
                "outputFieldLabels": {
                    DOCUMENT_NUMBER_OUTPUT: "Fortnox document number",
                    DOCUMENT_TYPE_OUTPUT: "Fortnox document type",
                    CUSTOMER_NUMBER_OUTPUT: "Fortnox customer number",
                    ERROR_CODE_OUTPUT: "hubnox error code",
                    ERROR_MESSAGE_OUTPUT: "hubnox error",
                },
                "executionRules": {
                    "fortnoxNotConnected": "Fortnox is not connected: {{errorMessage}}",
                    "failed": "No Fortnox document ({{errorCode}}): {{errorMessage}}",
                    "created": "Created Fortnox {{documentType}} {{documentNumber}} for customer {{customerNumber}}.",
                },
            }},
        },
    }


def sync_customer_action(deployment: Mapping[str, Any]) -> dict[str, Any]:
    """The company and contact workflow action that creates or updates the Fortnox customer."""
    base = deployment["publicBaseUrl"]
    return {
        "uid": "hubnox_sync_fortnox_customer",
        "type": "workflow-action",
        "config": {
            "actionUrl": f"{base}{SYNC_CUSTOMER_PATH}",
            "isPublished": True,
            "supportedClients": [{"client": "WORKFLOWS"}],
            "objectTypes": ["COMPANY", "CONTACT"],
            "objectRequestOptions": {"properties": [_hubnox("hubspot.properties").CUSTOMER_NUMBER]},
            "inputFields": [],
            "outputFields": [_text_output(name) for name in (
                CUSTOMER_NUMBER_OUTPUT, ERROR_CODE_OUTPUT, ERROR_MESSAGE_OUTPUT)],
            "executionRules": [*_FAILURE_RULES,
                               {"labelName": "synced", "conditions": {"hs_execution_state": ["SUCCESS"]}}],
            "labels": {"en": {
                "actionName": "Sync Fortnox customer",
                "appDisplayName": "hubnox",
                "actionDescription": "Creates the Fortnox customer for the company or contact, or updates the one "
                                     "it is matched to, and writes the customer number back to the record.",
                "actionCardContent": "Create or update the Fortnox customer",
                "inputFieldLabels": {},
                "inputFieldDescriptions": {},
                "outputFieldLabels": {
                    CUSTOMER_NUMBER_OUTPUT: "Fortnox customer number",
                    ERROR_CODE_OUTPUT: "hubnox error code",
                    ERROR_MESSAGE_OUTPUT: "hubnox error",
                },
                "executionRules": {
                    "fortnoxNotConnected": "Fortnox is not connected: {{errorMessage}}",
                    "failed": "The Fortnox customer was not synced ({{errorCode}}): {{errorMessage}}",
                    "synced": "Fortnox customer {{customerNumber}} is up to date.",
                },
            }},
        },
    }


def card_config(deployment: Mapping[str, Any]) -> dict[str, Any]:
    """The app card on deal, company and contact records; it fetches GET /hubspot/card."""
    return {
        "uid": "hubnox_fortnox_card",
        "type": "card",
        "config": {
            "name": "Fortnox",
            "description": "The record's Fortnox customer, invoices and document, its last hubnox run, and "
                           "buttons to create the invoice or update the customer.",
            "location": "crm.record.sidebar",
            "entrypoint": "/app/cards/FortnoxCard.tsx",
            "objectTypes": ["deals", "companies", "contacts"],
        },
    }


def webhooks_config(deployment: Mapping[str, Any]) -> dict[str, Any]:
    """HubSpot's webhooks: every deal stage change of an installed portal, posted to POST /hubspot/webhooks.

    Deal creations are not subscribed to: their events carry no stage, and the poller finds a deal
    created in a trigger stage (README, "Decisions about webhooks and triggers").
    """
    return {
        "uid": "hubnox_webhooks",
        "type": "webhooks",
        "config": {
            "settings": {"targetUrl": f"{deployment['publicBaseUrl']}{WEBHOOKS_PATH}", "maxConcurrentRequests": 10},
            "subscriptions": {
                "crmObjects": [{"subscriptionType": "object.propertyChange", "objectType": "deal",
                                "propertyName": "dealstage", "active": True}],
            },
        },
    }


def card_settings_module(deployment: Mapping[str, Any]) -> str:
    """`config.ts`: the backend URL for the React card."""
    return ("// Written by hubspot-app/hsmeta.py from hubspot-app/deployment.json: change the URL there.\n"
            f"export const HUBNOX_BASE_URL = {json.dumps(deployment['publicBaseUrl'])};\n")


def project_files(deployment: Mapping[str, Any]) -> dict[str, str]:
    """Every generated file, by its path relative to hubspot-app/, as text."""
    as_json = {
        "hsproject.json": project_config(deployment),
        "src/app/app-hsmeta.json": app_config(deployment),
        "src/app/workflow-actions/create-fortnox-document-hsmeta.json": create_document_action(deployment),
        "src/app/workflow-actions/sync-fortnox-customer-hsmeta.json": sync_customer_action(deployment),
        "src/app/cards/card-hsmeta.json": card_config(deployment),
        "src/app/webhooks/webhooks-hsmeta.json": webhooks_config(deployment),
    }
    files = {path: json.dumps(data, indent=2, ensure_ascii=False) + "\n" for path, data in as_json.items()}
    files["src/app/cards/config.ts"] = card_settings_module(deployment)
    return files


# -- writing and checking ----------------------------------------------------------------------------


def write(files: Mapping[str, str], root: Path = APP_DIR) -> list[str]:
    """Write the files that differ under `root`; answers the paths written."""
    written = []
    for relative, text in files.items():
        target = root / relative
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(relative)
    return written


def stale(files: Mapping[str, str], root: Path = APP_DIR) -> list[str]:
    """The paths under `root` whose content is not what `files` says."""
    return [relative for relative, text in files.items()
            if not (root / relative).exists() or (root / relative).read_text(encoding="utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="the backend's public https URL (saved to deployment.json)")
    parser.add_argument("--check", action="store_true", help="only check that the files are up to date")
    args = parser.parse_args(argv)
    if args.base_url:
        if not BASE_URL_PATTERN.match(args.base_url):
            parser.error(f"--base-url must be an https URL without a trailing slash, not {args.base_url!r}")
        deployment = json.loads(DEPLOYMENT_FILE.read_text(encoding="utf-8"))
        deployment["publicBaseUrl"] = args.base_url
        DEPLOYMENT_FILE.write_text(json.dumps(deployment, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    files = project_files(load_deployment())
    if args.check:
        out_of_date = stale(files)
        for relative in out_of_date:
            print(f"out of date: hubspot-app/{relative} (run .venv/bin/python hubspot-app/hsmeta.py)")
        return 1 if out_of_date else 0
    for relative in write(files):
        print(f"wrote hubspot-app/{relative}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

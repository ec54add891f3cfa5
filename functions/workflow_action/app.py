"""The workflow_action function: HubSpot custom workflow actions (WorkflowActionFunction in template.yaml).

    POST /hubspot/actions/create-document   deal workflows: make a Fortnox invoice or order
    POST /hubspot/actions/sync-customer     company and contact workflows: create or update the customer
    POST /hubspot/actions/options           the choices of an action's dynamic input fields

Every route is HubSpot's only when its signature checks out (401 otherwise, and nothing happens).
An execution is recorded as a run and enqueued, and HubSpot gets `BLOCK` at once; the worker
completes the callback with SUCCESS or FAIL_CONTINUE when the job ends. HubSpot may deliver one
execution more than once: the callbackId is claimed first, so a repeat gets `BLOCK` again and
makes neither a second run nor a second job.

Decisions:
- A portal where hubnox is not installed gets a 404 that says so: there is no one to run for.
- A portal without a Fortnox connection gets `FAIL_CONTINUE` at once, with `errorCode` and
  `errorMessage` outputs, so the workflow history shows what to do; the execution is recorded as a
  failed run, which the app card shows and Replay can rerun once Fortnox is connected.
- The enrolled record is not read here (HubSpot just enrolled it, and the answer must be quick);
  a record that no longer exists fails the run in the worker, which completes the callback with
  FAIL_CONTINUE saying so.
- The `printTemplate` input travels with the job (and the run, so Replay keeps it) and becomes the
  document's `PrintTemplate`; empty or "default" leaves the customer's default template. Whether
  Fortnox has the template is not asked here: an unknown one is Fortnox's error, explained in the
  failure note.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from hubnox.config import get_settings
from hubnox.errors import BadRequestError, HubnoxError, NotFoundError, TransientError
from hubnox.fortnox.models import Limits
from hubnox.jobs import DocumentType, ObjectType, submit, trigger_key
from hubnox.observability import logger, tracer
from hubnox.store.runs import RunKind
from hubnox.sync.settings import PortalSettings, migrate
from hubnox.web.http import json_object, register_error_handlers
from hubnox.web.hubspot_auth import hubspot_signature_middleware
from hubnox.wiring import Container

app = APIGatewayHttpResolver()
container = Container(get_settings())
register_error_handlers(app, json_paths=lambda path: True)
app.use(middlewares=[hubspot_signature_middleware(lambda: container.settings, lambda: container.clock())])

#: the input fields hubnox's action definitions declare (hubspot-app/), and the outputs it answers
DOCUMENT_TYPE_INPUT = "documentType"
PRINT_TEMPLATE_INPUT = "printTemplate"
ERROR_CODE_OUTPUT = "errorCode"
ERROR_MESSAGE_OUTPUT = "errorMessage"
#: the documentType value that stands for the portal's default from its settings
DEFAULT_CHOICE = "default"
#: how long HubSpot keeps a blocked execution waiting for its callback (its documented default)
BLOCK_EXPIRATION = "P1W"
#: a callbackId stays claimed past HubSpot's 3 days of redelivery and the week an execution waits
CALLBACK_CLAIM_TTL_SECONDS = 8 * 24 * 3600
CALLBACK_CLAIM_KIND = "callback"
#: the Retry-After of the 503 that asks HubSpot to deliver again when the job could not be queued
#: (HubSpot retries a 5xx with its own backoff for up to three days whatever this says)
ENQUEUE_RETRY_AFTER_SECONDS = 5.0

WORKFLOW_OBJECTS: dict[str, ObjectType] = {"DEAL": "deal", "COMPANY": "company", "CONTACT": "contact"}
DOCUMENT_TYPE_LABELS: dict[str, str] = {"invoice": "Invoice", "order": "Order"}


@dataclass(frozen=True)
class Execution:
    """One workflow action execution as HubSpot posts it (reference hubspot.md §5.2)."""

    callback_id: str
    portal_id: str
    object_type: str
    object_id: str
    inputs: Mapping[str, str]


# -- the routes ----------------------------------------------------------------------------------


@app.post("/hubspot/actions/create-document")
def create_document() -> dict[str, Any]:
    execution = parse_execution(app.current_event.decoded_body)
    object_type = _object_of(execution, allowed=("DEAL",), action="Create Fortnox document")
    requested = requested_document_type(execution.inputs)
    template = requested_print_template(execution.inputs)
    _require_installed(execution.portal_id)
    document_type = requested or _portal_settings(execution.portal_id).default_document_type
    return start(execution, "create_document", object_type, document_type=document_type,
                 trigger=trigger_key("workflow", document_type), print_template=template)


@app.post("/hubspot/actions/sync-customer")
def sync_customer() -> dict[str, Any]:
    execution = parse_execution(app.current_event.decoded_body)
    object_type = _object_of(execution, allowed=("COMPANY", "CONTACT"), action="Sync Fortnox customer")
    _require_installed(execution.portal_id)
    return start(execution, "sync_customer", object_type)


@app.post("/hubspot/actions/options")
def options() -> dict[str, Any]:
    request = json_object(app.current_event.decoded_body)
    portal_id = _portal_of(request)
    field = request.get("inputFieldName")
    if not isinstance(field, str) or field not in OPTION_SOURCES:
        raise BadRequestError(f"hubnox offers no options for the input field {field!r}; it offers them for "
                              f"{', '.join(sorted(OPTION_SOURCES))}.", code="UNKNOWN_INPUT_FIELD")
    _require_installed(portal_id)
    inputs = _mapping(request.get("inputFields"))
    choices, searchable = OPTION_SOURCES[field](portal_id, inputs)
    query = str(_mapping(request.get("fetchOptions")).get("q") or "").strip().lower()
    if query:
        choices = [choice for choice in choices if query in choice["label"].lower()]
    return {"options": choices, "searchable": searchable}


# -- starting an execution -------------------------------------------------------------------------


def start(execution: Execution, kind: RunKind, object_type: ObjectType, *,
          document_type: DocumentType | None = None, trigger: str | None = None,
          print_template: str | None = None) -> dict[str, Any]:
    """Record and enqueue the execution once, and answer HubSpot: BLOCK, or FAIL_CONTINUE without Fortnox."""
    claimed = container.nonces.claim(CALLBACK_CLAIM_KIND, execution.callback_id, CALLBACK_CLAIM_TTL_SECONDS)
    try:
        if container.connections.get_fortnox(execution.portal_id) is None:
            return _without_fortnox(execution, kind, object_type, document_type, trigger, print_template,
                                    record=claimed)
        if not claimed:
            logger.info("repeated delivery of a workflow execution", extra={"callback_id": execution.callback_id})
            return blocked()
        run = submit(container.runs, container.jobs, execution.portal_id, kind, "workflow",
                     object_type=object_type, object_id=execution.object_id, document_type=document_type,
                     trigger_key=trigger, callback_id=execution.callback_id, print_template=print_template)
    except Exception as failure:
        if claimed:
            # Give the callbackId back: HubSpot delivers again after a 5xx, and that delivery must enqueue.
            container.nonces.release(CALLBACK_CLAIM_KIND, execution.callback_id)
        if isinstance(failure, HubnoxError) and not isinstance(failure, TransientError):
            raise
        logger.exception("could not enqueue a workflow execution", extra={"callback_id": execution.callback_id})
        raise TransientError("hubnox could not queue this action; HubSpot will deliver it again.",
                             code="ENQUEUE_FAILED", retry_after=ENQUEUE_RETRY_AFTER_SECONDS) from failure
    logger.info("workflow execution enqueued", extra={"run_id": run.run_id, "callback_id": execution.callback_id,
                                                      "kind": kind, "portal_id": execution.portal_id})
    return blocked()


def blocked() -> dict[str, Any]:
    """The answer that keeps the execution waiting for hubnox's callback."""
    return {"outputFields": {"hs_execution_state": "BLOCK", "hs_expiration_duration": BLOCK_EXPIRATION}}


def failed(code: str, message: str) -> dict[str, Any]:
    """The answer that ends the execution now with hubnox's error, shown in the workflow history."""
    return {"outputFields": {"hs_execution_state": "FAIL_CONTINUE", ERROR_CODE_OUTPUT: code,
                             ERROR_MESSAGE_OUTPUT: message}}


NO_FORTNOX_CODE = "FORTNOX_NOT_CONNECTED"
NO_FORTNOX_MESSAGE = ("This HubSpot portal is not connected to Fortnox. Connect Fortnox on the hubnox settings "
                      "page, then replay the run from the deal's hubnox card.")


def _without_fortnox(execution: Execution, kind: RunKind, object_type: ObjectType,
                     document_type: DocumentType | None, trigger: str | None, print_template: str | None, *,
                     record: bool) -> dict[str, Any]:
    if record:
        run = container.runs.create(execution.portal_id, kind, "workflow", object_type=object_type,
                                    object_id=execution.object_id, document_type=document_type,
                                    trigger_key=trigger, callback_id=execution.callback_id,
                                    print_template=print_template)
        container.runs.fail(execution.portal_id, run.run_id, NO_FORTNOX_CODE, NO_FORTNOX_MESSAGE)
        logger.warning("workflow execution without Fortnox", extra={"run_id": run.run_id,
                                                                    "portal_id": execution.portal_id})
    return failed(NO_FORTNOX_CODE, NO_FORTNOX_MESSAGE)


# -- reading HubSpot's request ---------------------------------------------------------------------


def parse_execution(body: str | None) -> Execution:
    """The execution in a request body; `BadRequestError` saying what is malformed or missing.

    Input fields come from `inputFields`, or from `fields` where older deliveries carry them.
    """
    request = json_object(body)
    callback_id = request.get("callbackId")
    if not isinstance(callback_id, str) or not callback_id.strip():
        raise BadRequestError("The execution has no callbackId.", code="MISSING_FIELD")
    portal_id = _portal_of(request)
    target = request.get("object")
    if not isinstance(target, dict):
        raise BadRequestError("The execution names no enrolled object.", code="MISSING_FIELD")
    object_id = _id_text(target.get("objectId"))
    if object_id is None:
        raise BadRequestError("The execution's object has no numeric objectId.", code="MISSING_FIELD")
    object_type = target.get("objectType")
    if not isinstance(object_type, str) or not object_type:
        raise BadRequestError("The execution's object has no objectType.", code="MISSING_FIELD")
    raw_inputs = request.get("inputFields")
    if raw_inputs is None:
        raw_inputs = request.get("fields")
    if raw_inputs is None:
        raw_inputs = {}
    if not isinstance(raw_inputs, dict):
        raise BadRequestError("The execution's inputFields is not an object.", code="INVALID_FIELD")
    inputs = {str(name): _input_text(value) for name, value in raw_inputs.items() if value is not None}
    return Execution(callback_id.strip(), portal_id, object_type.upper(), object_id, inputs)


def requested_document_type(inputs: Mapping[str, Any]) -> DocumentType | None:
    """The document type an execution asks for; None for the portal's default."""
    value = _input_text(inputs.get(DOCUMENT_TYPE_INPUT) or "").strip().lower()
    if value in ("", DEFAULT_CHOICE):
        return None
    if value == "invoice":
        return "invoice"
    if value == "order":
        return "order"
    raise BadRequestError(f"{DOCUMENT_TYPE_INPUT} must be invoice, order or {DEFAULT_CHOICE}, not {value!r}.",
                          code="INVALID_FIELD")


def requested_print_template(inputs: Mapping[str, Any]) -> str | None:
    """The Fortnox print template an execution asks for; None for the customer's default."""
    value = _input_text(inputs.get(PRINT_TEMPLATE_INPUT) or "").strip()
    if value.lower() in ("", DEFAULT_CHOICE):
        return None
    if len(value) > Limits.PRINT_TEMPLATE_NAME:
        raise BadRequestError(f"{PRINT_TEMPLATE_INPUT} must be a Fortnox print template code of at most "
                              f"{Limits.PRINT_TEMPLATE_NAME} characters, not {value[:40]!r}.", code="INVALID_FIELD")
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _portal_of(request: Mapping[str, Any]) -> str:
    origin = request.get("origin")
    portal_id = _id_text(origin.get("portalId")) if isinstance(origin, dict) else None
    if portal_id is None:
        raise BadRequestError("The request has no numeric origin.portalId.", code="MISSING_FIELD")
    return portal_id


def _id_text(value: Any) -> str | None:
    """HubSpot ids arrive as numbers (sometimes as digit strings); anything else is no id."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and value.strip().isdigit() and int(value) > 0:
        return value.strip()
    return None


def _input_text(value: Any) -> str:
    # Options fetches wrap inputs as {"type": "STATIC_VALUE", "value": ...}; executions send strings.
    if isinstance(value, dict):
        value = value.get("value", "")
    return "" if value is None else str(value)


def _object_of(execution: Execution, *, allowed: tuple[str, ...], action: str) -> ObjectType:
    if execution.object_type not in allowed:
        names = " and ".join(kind.lower() for kind in allowed)
        raise BadRequestError(f"{action} works in {names} workflows, not on a {execution.object_type.lower()}.",
                              code="WRONG_OBJECT_TYPE")
    return WORKFLOW_OBJECTS[execution.object_type]


def _require_installed(portal_id: str) -> None:
    connection = container.connections.get_hubspot(portal_id)
    if connection is None or connection.status == "uninstalled":
        raise NotFoundError(f"hubnox is not installed in HubSpot portal {portal_id}.", code="PORTAL_NOT_INSTALLED",
                            hint=f"Install hubnox from {container.settings.public_base}/oauth/hubspot/install.")


def _portal_settings(portal_id: str) -> PortalSettings:
    payload, _ = container.portal_settings.get(portal_id)
    return migrate(payload)


# -- dynamic options -------------------------------------------------------------------------------


Choice = dict[str, str]
OptionSource = Callable[[str, Mapping[str, Any]], tuple[list[Choice], bool]]


def document_type_options(portal_id: str, inputs: Mapping[str, Any]) -> tuple[list[Choice], bool]:
    """Invoice, order, or the portal's default (named, so the choice says what it means today)."""
    default = _portal_settings(portal_id).default_document_type
    choices = [{"label": label, "value": value, "description": f"Create a draft Fortnox {value}."}
               for value, label in DOCUMENT_TYPE_LABELS.items()]
    choices.append({"label": f"Portal default ({DOCUMENT_TYPE_LABELS[default].lower()})", "value": DEFAULT_CHOICE,
                    "description": "Whatever the hubnox settings name as the default document type."})
    return choices, False


def print_template_options(portal_id: str, inputs: Mapping[str, Any]) -> tuple[list[Choice], bool]:
    """The Fortnox company's print templates for the chosen document type, after "Fortnox default".

    When Fortnox cannot be asked (not connected, slow, refusing) only "Fortnox default" is
    offered, and the reason is logged.
    """
    settings = _portal_settings(portal_id)
    document_type = _chosen_type(inputs) or settings.default_document_type
    choices = [{"label": "Fortnox default", "value": DEFAULT_CHOICE,
                "description": "The template the hubnox settings or Fortnox choose."}]
    try:
        templates = container.fortnox_client(portal_id).print_templates(document_type)
    except Exception as error:
        logger.warning("print templates unavailable; offering the default only",
                       extra={"portal_id": portal_id, "reason": str(error)})
        return choices, True
    choices += [{"label": template.name or template.template, "value": template.template,
                 "description": f"Fortnox {document_type} template {template.template}"} for template in templates]
    return choices, True


def _chosen_type(inputs: Mapping[str, Any]) -> DocumentType | None:
    try:
        return requested_document_type(inputs)
    except BadRequestError:
        return None


OPTION_SOURCES: dict[str, OptionSource] = {
    DOCUMENT_TYPE_INPUT: document_type_options,
    PRINT_TEMPLATE_INPUT: print_template_options,
}

@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Answer one API Gateway HTTP API (payload 2.0) request on the workflow-action routes."""
    return app.resolve(event, context)

"""HubSpot's custom workflow actions: reading an execution, starting it once, and the dynamic options.

An execution is recorded as a run and enqueued, and HubSpot gets `BLOCK` at once; the worker
completes the callback with SUCCESS or FAIL_CONTINUE when the job ends. HubSpot may deliver one
execution more than once: starting it is a Powertools idempotent function keyed on the portal and
the callbackId, so a repeat (after the first, or while it is still in progress) gets `BLOCK` again
and makes neither a second run nor a second job.

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

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from hubnox.errors import BadRequestError, HubnoxError, NotFoundError, TransientError
from hubnox.fortnox.health import ConnectionHealth
from hubnox.fortnox.models import Limits, PrintTemplate
from hubnox.ids import callback_id, hubspot_id_or_none
from hubnox.jobs import DocumentType, ObjectType, Submit, trigger_key
from hubnox.observability import logger
from hubnox.records import RunKind, RunRequest
from hubnox.signals import count_run
from hubnox.sync.ports import Connections, RunLog
from hubnox.web.responses import json_object

#: the input fields hubnox's action definitions declare (hubspot-app/), and the outputs it answers
DOCUMENT_TYPE_INPUT = "documentType"
PRINT_TEMPLATE_INPUT = "printTemplate"
ERROR_CODE_OUTPUT = "errorCode"
ERROR_MESSAGE_OUTPUT = "errorMessage"
#: the documentType value that stands for the portal's default from its settings
DEFAULT_CHOICE = "default"
#: how long HubSpot keeps a blocked execution waiting for its callback (its documented default)
BLOCK_EXPIRATION = "P1W"
#: A callbackId stays claimed far past HubSpot's 3 days of redelivery and the week an execution waits:
#: a v2-signed execution carries no timestamp, so a captured one verifies for ever, and only its claim
#: keeps it from acting again. A year of small items; after that the deal link still refuses a second
#: document for the deal and trigger.
CALLBACK_CLAIM_TTL_SECONDS = 366 * 24 * 3600
#: the idempotency key's prefix (instead of Powertools' default, the function's name), so that renaming
#: the Lambda function or this module never frees a claimed callbackId
CALLBACK_CLAIM_PREFIX = "callback"
# Powertools warns on every start that no Lambda context was registered; `callback_idempotency` says why none is.
warnings.filterwarnings("ignore", message="Couldn't determine the remaining time left", category=UserWarning,
                        module="aws_lambda_powertools")
#: the Retry-After of the 503 that asks HubSpot to deliver again when the job could not be queued
#: (HubSpot retries a 5xx with its own backoff for up to three days whatever this says)
ENQUEUE_RETRY_AFTER_SECONDS = 5.0

NO_FORTNOX_CODE = "FORTNOX_NOT_CONNECTED"
NO_FORTNOX_MESSAGE = ("This HubSpot portal is not connected to Fortnox. Connect Fortnox on the hubnox settings "
                      "page, then replay the run from the deal's hubnox card.")

#: HubSpot's object types are short names ("DEAL", "0-3", "p123_custom"); longer is no object type
OBJECT_TYPE_MAX_LENGTH = 100
WORKFLOW_OBJECTS: dict[str, ObjectType] = {"DEAL": "deal", "COMPANY": "company", "CONTACT": "contact"}
DOCUMENT_TYPE_LABELS: dict[str, str] = {"invoice": "Invoice", "order": "Order"}
#: what a document type's label gains when the Fortnox company's scopes or licences do not allow it
UNAVAILABLE_SUFFIX = " (not available in this Fortnox company)"

Choice = dict[str, str]


# -- reading HubSpot's requests ----------------------------------------------------------------------


@dataclass(frozen=True)
class Execution:
    """One workflow action execution as HubSpot posts it (reference hubspot.md §5.2)."""

    callback_id: str
    portal_id: str
    object_type: str
    object_id: str
    inputs: Mapping[str, str]


@dataclass(frozen=True)
class OptionsRequest:
    """HubSpot asking for the choices of one input field of an action."""

    portal_id: str
    field: str
    inputs: Mapping[str, Any]
    #: what the user has typed so far, lower-cased ("" for everything)
    query: str


def parse_execution(body: str | None) -> Execution:
    """The execution in a request body; `BadRequestError` saying what is malformed or missing.

    Input fields come from `inputFields`, or from `fields` where older deliveries carry them.
    """
    request = json_object(body)
    callback = callback_id(request.get("callbackId"))
    portal_id = portal_of(request)
    target = request.get("object")
    if not isinstance(target, dict):
        raise BadRequestError("The execution names no enrolled object.", code="MISSING_FIELD")
    object_id = hubspot_id_or_none(target.get("objectId"))
    if object_id is None:
        raise BadRequestError("The execution's object has no numeric objectId.", code="MISSING_FIELD")
    object_type = target.get("objectType")
    if not isinstance(object_type, str) or not object_type or len(object_type) > OBJECT_TYPE_MAX_LENGTH:
        raise BadRequestError("The execution's object has no objectType.", code="MISSING_FIELD")
    raw_inputs = request.get("inputFields")
    if raw_inputs is None:
        raw_inputs = request.get("fields")
    if raw_inputs is None:
        raw_inputs = {}
    if not isinstance(raw_inputs, dict):
        raise BadRequestError("The execution's inputFields is not an object.", code="INVALID_FIELD")
    inputs = {str(name): _input_text(value) for name, value in raw_inputs.items() if value is not None}
    return Execution(callback, portal_id, object_type.upper(), object_id, inputs)


def parse_options_request(body: str | None) -> OptionsRequest:
    """The options request in a request body; `BadRequestError` for a missing portal or an input
    field hubnox offers no choices for."""
    request = json_object(body)
    portal_id = portal_of(request)
    field = request.get("inputFieldName")
    if not isinstance(field, str) or field not in OPTION_SOURCES:
        raise BadRequestError(f"hubnox offers no options for the input field {field!r}; it offers them for "
                              f"{', '.join(sorted(OPTION_SOURCES))}.", code="UNKNOWN_INPUT_FIELD")
    query = str(_mapping(request.get("fetchOptions")).get("q") or "").strip().lower()
    return OptionsRequest(portal_id, field, _mapping(request.get("inputFields")), query)


def portal_of(request: Mapping[str, Any]) -> str:
    """The portal a request comes from (`origin.portalId`); `BadRequestError` when it names none."""
    origin = request.get("origin")
    portal_id = hubspot_id_or_none(origin.get("portalId")) if isinstance(origin, dict) else None
    if portal_id is None:
        raise BadRequestError("The request has no numeric origin.portalId.", code="MISSING_FIELD")
    return portal_id


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


def workflow_object(execution: Execution, *, allowed: tuple[str, ...], action: str) -> ObjectType:
    """hubnox's object type for the enrolled record; `BadRequestError` when `action` does not work on it."""
    if execution.object_type not in allowed:
        names = " and ".join(kind.lower() for kind in allowed)
        raise BadRequestError(f"{action} works in {names} workflows, not on a {execution.object_type.lower()}.",
                              code="WRONG_OBJECT_TYPE")
    return WORKFLOW_OBJECTS[execution.object_type]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _input_text(value: Any) -> str:
    # Options fetches wrap inputs as {"type": "STATIC_VALUE", "value": ...}; executions send strings.
    if isinstance(value, dict):
        value = value.get("value", "")
    return "" if value is None else str(value)


# -- answers -----------------------------------------------------------------------------------------


def callback_claim(execution: Execution) -> str:
    """What is claimed for an execution: its callbackId within its portal, so that a callbackId named by
    one portal can never stand in for (or block) another portal's execution."""
    return f"{execution.portal_id}#{execution.callback_id}"


class RepeatedDelivery:
    """What starting an execution gives back when it was started before: Powertools found its completed
    idempotency record (`start` treats one still in progress alike)."""


REPEATED = RepeatedDelivery()


def _repeated(response: Any, idempotent_data: DataRecord) -> RepeatedDelivery:
    return REPEATED


def callback_idempotency() -> IdempotencyConfig:
    """How an execution is started once: keyed on `callback_claim` (the idempotent function's `claim`),
    remembered `CALLBACK_CLAIM_TTL_SECONDS`, a stored start given back as `REPEATED`.

    No Lambda context is registered on purpose: an execution whose delivery died mid-start stays
    claimed (Powertools' in-progress record without an in-progress expiry), since its job may
    already be queued, and HubSpot's redelivery must not queue a second one.
    """
    return IdempotencyConfig(expires_after_seconds=CALLBACK_CLAIM_TTL_SECONDS, raise_on_no_idempotency_key=True,
                             response_hook=_repeated)


def blocked() -> dict[str, Any]:
    """The answer that keeps the execution waiting for hubnox's callback."""
    return {"outputFields": {"hs_execution_state": "BLOCK", "hs_expiration_duration": BLOCK_EXPIRATION}}


def failed(code: str, message: str) -> dict[str, Any]:
    """The answer that ends the execution now with hubnox's error, shown in the workflow history."""
    return {"outputFields": {"hs_execution_state": "FAIL_CONTINUE", ERROR_CODE_OUTPUT: code,
                             ERROR_MESSAGE_OUTPUT: message}}


# -- ports -------------------------------------------------------------------------------------------


class PrintTemplates(Protocol):
    """What the options read from Fortnox (`FortnoxClient`)."""

    def print_templates(self, document_type: str = "invoice") -> list[PrintTemplate]: ...


# -- the actions -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class WorkflowActions:
    """Starts workflow executions (see the module docstring) and offers the actions' choices."""

    connections: Connections
    #: Powertools' idempotency records of started executions (`callback_idempotency` says how)
    claims: BasePersistenceLayer
    idempotency: IdempotencyConfig
    runs: RunLog
    submit: Submit
    #: a Fortnox client for a portal's connected company
    fortnox: Callable[[str], PrintTemplates]
    default_document_type: Callable[[str], DocumentType]
    public_base: str
    #: what the portal's Fortnox company lets hubnox use (checked, cached); None where unknown
    health: Callable[[str], ConnectionHealth | None] = lambda portal_id: None

    def create_document(self, execution: Execution) -> dict[str, Any]:
        """Start a deal's Fortnox document: the type the execution asks for, else the portal's default."""
        object_type = workflow_object(execution, allowed=("DEAL",), action="Create Fortnox document")
        requested = requested_document_type(execution.inputs)
        template = requested_print_template(execution.inputs)
        self.require_installed(execution.portal_id)
        document_type = requested or self.default_document_type(execution.portal_id)
        return self.start(execution, "create_document", object_type, document_type=document_type,
                          trigger=trigger_key("workflow", document_type), print_template=template)

    def sync_customer(self, execution: Execution) -> dict[str, Any]:
        """Start the Fortnox customer sync of an enrolled company or contact."""
        object_type = workflow_object(execution, allowed=("COMPANY", "CONTACT"), action="Sync Fortnox customer")
        self.require_installed(execution.portal_id)
        return self.start(execution, "sync_customer", object_type)

    def start(self, execution: Execution, kind: RunKind, object_type: ObjectType, *,
              document_type: DocumentType | None = None, trigger: str | None = None,
              print_template: str | None = None) -> dict[str, Any]:
        """Record and enqueue the execution once, and answer HubSpot: BLOCK, or FAIL_CONTINUE without Fortnox.

        Raises `TransientError` (503, HubSpot delivers again) when the job could not be queued; the
        execution's idempotency record is deleted first, so that delivery enqueues.
        """
        request = RunRequest(portal_id=execution.portal_id, kind=kind, trigger="workflow", object_type=object_type,
                             object_id=execution.object_id, document_type=document_type, trigger_key=trigger,
                             callback_id=execution.callback_id, print_template=print_template)
        try:
            try:
                answer = self._start_once(claim=callback_claim(execution), execution=execution, request=request)
            except IdempotencyAlreadyInProgressError:
                answer = REPEATED
            if answer is not REPEATED:
                return answer
            # A repeat answers as a first delivery would now, and does nothing.
            if self.connections.get_fortnox(execution.portal_id) is None:
                return failed(NO_FORTNOX_CODE, NO_FORTNOX_MESSAGE)
        except Exception as failure:
            if isinstance(failure, HubnoxError) and not isinstance(failure, TransientError):
                raise
            logger.exception("could not enqueue a workflow execution", extra={"callback_id": execution.callback_id})
            raise TransientError("hubnox could not queue this action; HubSpot will deliver it again.",
                                 code="ENQUEUE_FAILED", retry_after=ENQUEUE_RETRY_AFTER_SECONDS) from failure
        logger.info("repeated delivery of a workflow execution", extra={"callback_id": execution.callback_id})
        return blocked()

    @cached_property
    def _start_once(self) -> Callable[..., Any]:
        # Powertools deletes the record when `_start` raises, so the delivery after a 503 starts it.
        return idempotent_function(self._start, data_keyword_argument="claim", persistence_store=self.claims,
                                   config=self.idempotency, key_prefix=CALLBACK_CLAIM_PREFIX)

    def _start(self, *, claim: str, execution: Execution, request: RunRequest) -> dict[str, Any]:
        """The first delivery's work: a failed run without Fortnox, else a queued run and job; the answer."""
        if self.connections.get_fortnox(execution.portal_id) is None:
            return self._without_fortnox(execution, request)
        run = self.submit(request)
        logger.info("workflow execution enqueued", extra={"run_id": run.run_id, "callback_id": execution.callback_id,
                                                          "kind": request.kind, "portal_id": execution.portal_id})
        return blocked()

    def require_installed(self, portal_id: str) -> None:
        """Nothing when hubnox is installed in the portal; `NotFoundError` with the install link otherwise."""
        connection = self.connections.get_hubspot(portal_id)
        if connection is None or connection.status == "uninstalled":
            raise NotFoundError(f"hubnox is not installed in HubSpot portal {portal_id}.",
                                code="PORTAL_NOT_INSTALLED",
                                hint=f"Install hubnox from {self.public_base}/oauth/hubspot/install.")

    def _without_fortnox(self, execution: Execution, request: RunRequest) -> dict[str, Any]:
        run = self.runs.create(request)
        count_run(self.runs.fail(execution.portal_id, run.run_id, NO_FORTNOX_CODE, NO_FORTNOX_MESSAGE))
        logger.warning("workflow execution without Fortnox", extra={"run_id": run.run_id,
                                                                    "portal_id": execution.portal_id})
        return failed(NO_FORTNOX_CODE, NO_FORTNOX_MESSAGE)

    # -- dynamic options -------------------------------------------------------------------------

    def options(self, request: OptionsRequest) -> dict[str, Any]:
        """The choices for the requested input field, narrowed to those whose label holds the query."""
        self.require_installed(request.portal_id)
        choices, searchable = OPTION_SOURCES[request.field](self, request.portal_id, request.inputs)
        if request.query:
            choices = [choice for choice in choices if request.query in choice["label"].lower()]
        return {"options": choices, "searchable": searchable}

    def document_type_options(self, portal_id: str, inputs: Mapping[str, Any]) -> tuple[list[Choice], bool]:
        """Invoice, order, or the portal's default (named, so the choice says what it means today)."""
        default = self.default_document_type(portal_id)
        health = self._health_of(portal_id)
        choices = [_document_choice(value, label, health) for value, label in DOCUMENT_TYPE_LABELS.items()]
        default_label = f"Portal default ({DOCUMENT_TYPE_LABELS[default].lower()})"
        if health is not None and not health.works(default):
            default_label += UNAVAILABLE_SUFFIX
        choices.append({"label": default_label, "value": DEFAULT_CHOICE,
                        "description": "Whatever the hubnox settings name as the default document type."})
        return choices, False

    def _health_of(self, portal_id: str) -> ConnectionHealth | None:
        try:
            return self.health(portal_id)
        except Exception as error:  # the options must answer whatever the check does
            logger.warning("connection health unavailable for the options",
                           extra={"portal_id": portal_id, "reason": str(error)})
            return None

    def print_template_options(self, portal_id: str, inputs: Mapping[str, Any]) -> tuple[list[Choice], bool]:
        """The Fortnox company's print templates for the chosen document type, after "Fortnox default".

        When Fortnox cannot be asked (not connected, slow, refusing) only "Fortnox default" is
        offered, and the reason is logged.
        """
        default = self.default_document_type(portal_id)
        document_type = _chosen_type(inputs) or default
        choices = [{"label": "Fortnox default", "value": DEFAULT_CHOICE,
                    "description": "The template the hubnox settings or Fortnox choose."}]
        try:
            templates = self.fortnox(portal_id).print_templates(document_type)
        except Exception as error:
            logger.warning("print templates unavailable; offering the default only",
                           extra={"portal_id": portal_id, "reason": str(error)})
            return choices, True
        choices += [{"label": template.name or template.template, "value": template.template,
                     "description": f"Fortnox {document_type} template {template.template}"}
                    for template in templates]
        return choices, True


def _document_choice(value: str, label: str, health: ConnectionHealth | None) -> Choice:
    """One document type's choice; labelled unavailable, saying why, when Fortnox will refuse it.
    (HubSpot's options cannot be disabled, so the label and description say it.)"""
    problem = health.feature(value) if health is not None and not health.works(value) else None
    if problem is None:
        return {"label": label, "value": value, "description": f"Create a draft Fortnox {value}."}
    return {"label": label + UNAVAILABLE_SUFFIX, "value": value, "description": f"{problem.message} {problem.fix}"}


def _chosen_type(inputs: Mapping[str, Any]) -> DocumentType | None:
    try:
        return requested_document_type(inputs)
    except BadRequestError:
        return None


OptionSource = Callable[[WorkflowActions, str, Mapping[str, Any]], tuple[list[Choice], bool]]
#: the input fields whose choices hubnox offers, and what offers them
OPTION_SOURCES: dict[str, OptionSource] = {
    DOCUMENT_TYPE_INPUT: WorkflowActions.document_type_options,
    PRINT_TEMPLATE_INPUT: WorkflowActions.print_template_options,
}

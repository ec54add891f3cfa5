"""The workflow actions as a service on fakes: an execution becomes one run and one job and waits (BLOCK),
however often HubSpot delivers it; without Fortnox it fails at once saying why; the actions' choices."""

from __future__ import annotations

from functools import partial

import pytest

from hubnox.errors import BadRequestError, ConnectionBrokenError, NotFoundError, TransientError
from hubnox.fortnox.health import ConnectionHealth, FeatureHealth
from hubnox.fortnox.models import PrintTemplate
from hubnox.jobs import submit
from hubnox.services.workflows import (
    NO_FORTNOX_CODE,
    NO_FORTNOX_MESSAGE,
    Execution,
    OptionsRequest,
    WorkflowActions,
    callback_idempotency,
)
from tests.support.clock import FakeClock
from tests.support.fakes import CallbackClaims, Connections, Queue, Runs, installed

PORTAL = "4242"
OTHER_PORTAL = "5353"
BASE = "https://hubnox.example.com"
BLOCK = {"hs_execution_state": "BLOCK", "hs_expiration_duration": "P1W"}


class Templates:
    """A Fortnox company's print templates; `failure`, when set, is what asking for them raises."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.failure = failure
        self.asked: list[str] = []

    def print_templates(self, document_type: str = "invoice") -> list[PrintTemplate]:
        self.asked.append(document_type)
        if self.failure:
            raise self.failure
        return [PrintTemplate(template="st", name="Standard"), PrintTemplate(template="eng", name="English invoice")]


class World:
    """The workflow actions over fake stores, queue and Fortnox; `default` is the portals' default type."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.connections = installed(Connections(), PORTAL)
        self.runs = Runs(self.clock)
        self.queue = Queue()
        self.claims = CallbackClaims()
        self.templates = Templates()
        self.default = "invoice"
        self.actions = WorkflowActions(
            connections=self.connections, claims=self.claims, idempotency=callback_idempotency(), runs=self.runs,
            submit=partial(submit, self.runs, self.queue), fortnox=lambda portal_id: self.templates,
            default_document_type=lambda portal_id: self.default,
            public_base=BASE, health=lambda portal_id: self.health)
        self.health: ConnectionHealth | None = None

    def all_runs(self, portal_id: str = PORTAL) -> list:
        return self.runs.list_recent(portal_id)


@pytest.fixture
def world() -> World:
    return World()


def execution(callback: str = "cb-1", *, portal_id: str = PORTAL, object_type: str = "DEAL",
              object_id: str = "904", **inputs: str) -> Execution:
    return Execution(callback_id=callback, portal_id=portal_id, object_type=object_type, object_id=object_id,
                     inputs=inputs)


# -- starting an execution -----------------------------------------------------------------------------


def test_an_execution_is_answered_block_and_becomes_one_queued_run_and_its_job(world):
    answer = world.actions.create_document(execution(documentType="invoice"))

    assert answer == {"outputFields": BLOCK}
    [run] = world.all_runs()
    assert (run.status, run.kind, run.trigger, run.object_type, run.object_id, run.document_type,
            run.trigger_key, run.callback_id) == (
        "queued", "create_document", "workflow", "deal", "904", "invoice", "workflow:invoice", "cb-1")
    assert [job.run_id for job in world.queue.jobs] == [run.run_id]


def test_the_same_callback_delivered_again_is_blocked_and_makes_no_second_run_or_job(world):
    world.actions.create_document(execution("cb-1"))
    again = world.actions.create_document(execution("cb-1"))

    assert again == {"outputFields": BLOCK}
    assert len(world.all_runs()) == 1
    assert len(world.queue.jobs) == 1


def test_a_delivery_arriving_while_the_first_is_still_starting_is_blocked_and_does_nothing(world):
    answers: list[dict] = []
    send = world.queue.send

    def redeliver_then_send(job, **kwargs):
        answers.append(world.actions.create_document(execution("cb-1")))  # HubSpot again, mid-start
        send(job, **kwargs)

    world.queue.send = redeliver_then_send
    first = world.actions.create_document(execution("cb-1"))

    assert answers == [{"outputFields": BLOCK}] and first == {"outputFields": BLOCK}
    assert len(world.all_runs()) == 1 and len(world.queue.jobs) == 1


def test_a_callback_id_claimed_in_one_portal_does_not_block_another_portals_execution(world):
    installed(world.connections, OTHER_PORTAL)
    world.actions.create_document(execution("cb-1"))
    world.actions.create_document(execution("cb-1", portal_id=OTHER_PORTAL))

    assert [job.portal_id for job in world.queue.jobs] == [PORTAL, OTHER_PORTAL]


def test_two_executions_of_one_deal_are_two_runs(world):
    world.actions.create_document(execution("cb-1"))
    world.actions.create_document(execution("cb-2"))

    assert sorted(job.callback_id for job in world.queue.jobs) == ["cb-1", "cb-2"]
    assert len(world.all_runs()) == 2


@pytest.mark.parametrize(("choice", "saved_default", "expected"), [
    ("order", "invoice", "order"), ("invoice", "order", "invoice"),
    ("default", "order", "order"), ("", "order", "order"),
])
def test_the_document_type_is_the_one_asked_for_or_the_portals_default(world, choice, saved_default, expected):
    world.default = saved_default
    world.actions.create_document(execution(documentType=choice))

    [job] = world.queue.jobs
    assert (job.document_type, job.trigger_key) == (expected, f"workflow:{expected}")


def test_the_print_template_asked_for_travels_with_the_job_and_default_leaves_it_to_fortnox(world):
    world.actions.create_document(execution("cb-1", printTemplate="eng"))
    world.actions.create_document(execution("cb-2", printTemplate="default"))

    assert [job.print_template for job in world.queue.jobs] == ["eng", None]


def test_a_document_type_hubnox_does_not_make_is_refused_and_nothing_is_recorded(world):
    with pytest.raises(BadRequestError, match="documentType"):
        world.actions.create_document(execution(documentType="quote"))

    assert world.all_runs() == [] and world.queue.jobs == []


# -- portals that cannot run it ------------------------------------------------------------------------


def test_a_portal_without_fortnox_gets_fail_continue_saying_why_and_a_failed_run_to_replay(world, capsys):
    world.connections.delete_fortnox(PORTAL)

    answer = world.actions.create_document(execution())

    assert answer == {"outputFields": {"hs_execution_state": "FAIL_CONTINUE", "errorCode": NO_FORTNOX_CODE,
                                       "errorMessage": NO_FORTNOX_MESSAGE}}
    [run] = world.all_runs()
    assert (run.status, run.error_code, run.callback_id) == ("failed", NO_FORTNOX_CODE, "cb-1")
    assert world.queue.jobs == []
    counted = [line for line in capsys.readouterr().out.splitlines() if '"RunsFailedByCode"' in line]
    assert len(counted) == 1 and f'"ErrorCode":"{NO_FORTNOX_CODE}"' in counted[0]  # counted for the operator


def test_a_repeated_delivery_without_fortnox_fails_again_without_a_second_run(world):
    world.connections.delete_fortnox(PORTAL)
    first = world.actions.create_document(execution())
    again = world.actions.create_document(execution())

    assert again == first
    assert len(world.all_runs()) == 1


@pytest.mark.parametrize("portal_state", ["never installed", "uninstalled"])
def test_a_portal_where_hubnox_is_not_installed_gets_a_404_naming_the_install_link(world, portal_state):
    if portal_state == "uninstalled":
        installed(world.connections, OTHER_PORTAL).mark_uninstalled(OTHER_PORTAL)

    with pytest.raises(NotFoundError) as refused:
        world.actions.create_document(execution(portal_id=OTHER_PORTAL))

    assert refused.value.code == "PORTAL_NOT_INSTALLED"
    assert f"{BASE}/oauth/hubspot/install" in (refused.value.hint or "")
    assert world.all_runs(OTHER_PORTAL) == [] and world.queue.jobs == []


# -- a queue that is down ------------------------------------------------------------------------------


@pytest.mark.parametrize("outage", [ConnectionError("queue unreachable"),
                                    TransientError("SQS throttled", code="THROTTLED")])
def test_when_the_queue_is_down_hubspot_is_asked_to_retry_and_its_retry_enqueues(world, outage):
    world.queue.down = outage
    with pytest.raises(TransientError) as retry:
        world.actions.create_document(execution("cb-1"))
    assert retry.value.code == "ENQUEUE_FAILED"

    world.queue.down = None
    assert world.actions.create_document(execution("cb-1")) == {"outputFields": BLOCK}
    assert [job.callback_id for job in world.queue.jobs] == ["cb-1"]


# -- customer sync -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("object_type", "expected"), [("COMPANY", "company"), ("CONTACT", "contact")])
def test_sync_customer_enqueues_a_customer_sync_of_the_company_or_contact(world, object_type, expected):
    answer = world.actions.sync_customer(execution(object_type=object_type, object_id="501"))

    assert answer == {"outputFields": BLOCK}
    [job] = world.queue.jobs
    assert (job.kind, job.object_type, job.object_id, job.trigger_key) == ("sync_customer", expected, "501", None)


def test_sync_customer_refuses_deals_and_create_document_refuses_companies(world):
    with pytest.raises(BadRequestError, match="not on a deal"):
        world.actions.sync_customer(execution(object_type="DEAL"))
    with pytest.raises(BadRequestError, match="not on a company"):
        world.actions.create_document(execution(object_type="COMPANY"))

    assert world.queue.jobs == []


# -- the actions' choices ------------------------------------------------------------------------------


def options(field: str, query: str = "", **inputs: object) -> OptionsRequest:
    return OptionsRequest(portal_id=PORTAL, field=field, inputs=inputs, query=query)


def test_document_type_options_name_what_the_portals_default_is_today(world):
    world.default = "order"
    answer = world.actions.options(options("documentType"))

    assert [(o["value"], o["label"]) for o in answer["options"]] == [
        ("invoice", "Invoice"), ("order", "Order"), ("default", "Portal default (order)")]
    assert answer["searchable"] is False


def test_without_the_order_licence_the_order_choices_say_they_are_not_available_and_why(world):
    world.default = "order"
    world.health = ConnectionHealth("1000001", 1.0, 2.0, (
        FeatureHealth("invoice", "Invoices", "ok"),
        FeatureHealth("order", "Orders", "no_licence", "Orders will not work: no Order licence.", "Add it.")))

    choices = {o["value"]: o for o in world.actions.options(options("documentType"))["options"]}

    assert choices["invoice"]["label"] == "Invoice"
    assert choices["order"]["label"] == "Order (not available in this Fortnox company)"
    assert choices["order"]["description"] == "Orders will not work: no Order licence. Add it."
    assert choices["default"]["label"] == "Portal default (order) (not available in this Fortnox company)"


def test_print_template_options_come_from_fortnox_for_the_chosen_document_type(world):
    answer = world.actions.options(options("printTemplate", documentType={"type": "STATIC_VALUE", "value": "order"}))

    assert [o["value"] for o in answer["options"]] == ["default", "st", "eng"]
    assert answer["searchable"] is True
    assert world.templates.asked == ["order"]


def test_print_template_options_are_narrowed_to_what_the_user_typed(world):
    answer = world.actions.options(options("printTemplate", query="engl"))

    assert [o["label"] for o in answer["options"]] == ["English invoice"]


@pytest.mark.parametrize("failure", [TransientError("Fortnox is slow", code="TIMEOUT"),
                                     ConnectionBrokenError("Fortnox")])
def test_when_fortnox_cannot_list_templates_only_its_default_is_offered(world, failure):
    world.templates.failure = failure
    answer = world.actions.options(options("printTemplate"))

    assert [o["value"] for o in answer["options"]] == ["default"]


def test_options_for_a_portal_where_hubnox_is_not_installed_are_refused(world):
    with pytest.raises(NotFoundError):
        world.actions.options(OptionsRequest(portal_id=OTHER_PORTAL, field="documentType", inputs={}, query=""))

"""The create-document action's print template input: chosen in the workflow, it travels with the
job and the run, survives a Replay (and a run recorded before Fortnox was connected), and "default"
or nothing leaves the customer's default template."""

from __future__ import annotations

import pytest

from hubnox.jobs import Job
from tests.integration.test_workflow_action import create, execution, outputs, runs
from tests.support.functions import SAMPLE_PORTAL, world_on_moto
from tests.unit.test_replay import link, press_replay


@pytest.fixture
def world(aws_clients):
    with world_on_moto(aws_clients) as world:
        world.install()
        world.connect_fortnox()
        yield world


def test_the_chosen_template_travels_with_the_job_and_the_run(world):
    create(world, execution(inputs={"documentType": "invoice", "printTemplate": " faktura_en "}))

    [job] = world.jobs()
    [run] = runs(world)
    assert job.print_template == run.print_template == "faktura_en"
    # the job is the run's, carrying the turn admission booked as it was sent
    assert job.admit_at is not None and job.model_copy(update={"admit_at": None}) == Job.for_run(run)


@pytest.mark.parametrize("choice", ["", "default", "Default", None])
def test_default_or_no_choice_leaves_the_customers_template(world, choice):
    inputs = {"documentType": "invoice"} | ({"printTemplate": choice} if choice is not None else {})

    create(world, execution(inputs=inputs))

    [job] = world.jobs()
    assert job.print_template is None
    assert "print_template" not in job.to_message()


def test_a_template_longer_than_fortnox_allows_is_refused_and_nothing_is_recorded(world):
    response = create(world, execution(inputs={"documentType": "invoice", "printTemplate": "x" * 26}))

    assert response["statusCode"] == 400
    assert "printTemplate" in response["json"]["message"]
    assert (runs(world), world.jobs()) == ([], [])


def test_a_replay_keeps_the_template_the_workflow_chose(world):
    create(world, execution(inputs={"documentType": "invoice", "printTemplate": "faktura_en"}))
    [first] = world.jobs()
    path, token = link(world, first.run_id)

    press_replay(world, path, token)

    [again] = world.jobs()
    assert (again.trigger, again.print_template) == ("replay", "faktura_en")


def test_a_run_recorded_without_fortnox_keeps_the_template_for_its_replay(world):
    world.container.connections.delete_fortnox(SAMPLE_PORTAL)
    response = create(world, execution(inputs={"documentType": "order", "printTemplate": "foljesedel"}))
    assert outputs(response)["hs_execution_state"] == "FAIL_CONTINUE"
    [run] = runs(world)
    world.connect_fortnox()
    path, token = link(world, run.run_id)

    press_replay(world, path, token)

    [job] = world.jobs()
    assert (run.print_template, job.print_template, job.document_type) == ("foljesedel", "foljesedel", "order")

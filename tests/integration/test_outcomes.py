"""A run's outcome reaches HubSpot whatever HubSpot does meanwhile: the note, the deal's properties
and the workflow callback are each told once, by follow-ups when HubSpot is failing, and a failed
document run tells the truth Fortnox holds."""

from __future__ import annotations

import pytest

from hubnox.errors import JobExhausted, TransientError
from hubnox.hubspot.properties import SYNC_STATUS
from hubnox.jobs import LAST_TRY, MAX_ATTEMPTS, backoff_seconds
from hubnox.store.table import Table
from hubnox.sync.delivery import CALLBACK_WINDOW_SECONDS, NOTED_BY_ANOTHER_RUN
from tests.integration.test_runner import World, seed

NOTES = "/crm/objects/2026-03/notes"
DEALS = "/crm/objects/2026-03/0-3/.*"
CALLBACKS = "/automation/.*"


@pytest.fixture
def world(table: Table) -> World:
    return World(table, seed())


def hubspot_fails(world: World, method: str, path: str, times: int | None = 1, status: int = 503) -> None:
    world.hubspot_sim.faults.add({"kind": "status", "method": method, "path": path, "status": status,
                                  "times": times})


def test_a_note_hubspot_refuses_for_now_is_written_by_a_follow_up_and_the_run_is_final_only_then(world):
    hubspot_fails(world, "POST", NOTES, times=3)  # the client's own retries see it too
    callback_id = world.enroll()

    run = world.run(callback_id=callback_id)

    assert (run.status, run.delivery, len(world.invoices())) == ("succeeded", "pending", 1)
    assert world.notes() == [] and not run.final
    assert world.callback(callback_id)["state"] == "COMPLETED"  # the other steps did not wait
    [(follow_up, delay)] = world.follow_ups.sent
    assert (follow_up.run_id, follow_up.delivery_round, delay) == (run.run_id, 1, backoff_seconds(1))

    told = world.tell_follow_ups()

    assert told is not None and (told.delivery, told.final) == ("delivered", True)
    assert "was created as a draft" in world.notes()[0]["hs_note_body"]
    assert len(world.notes()) == 1 and len(world.invoices()) == 1


def test_a_callback_hubspot_fails_to_take_is_completed_later_without_a_second_note_or_pdf(world):
    callback_id = world.enroll()
    hubspot_fails(world, "POST", CALLBACKS, times=3)

    run = world.run(callback_id=callback_id)

    assert (run.status, run.delivery, world.callback(callback_id)["state"]) == ("succeeded", "pending", "BLOCKED")
    told = world.tell_follow_ups()
    assert told is not None and told.delivery == "delivered"
    assert world.callback(callback_id)["completions"][0]["outputFields"]["hs_execution_state"] == "SUCCESS"
    assert len(world.notes()) == 1 and len(world.portal_dump()["files"]) == 1


def test_a_failure_told_in_part_is_finished_by_the_follow_up_with_its_one_note(world):
    hubspot_fails(world, "PATCH", DEALS, times=3)
    world.fortnox_sim.faults.add({"kind": "status", "method": "POST", "path": "/3/invoices", "status": 400,
                                  "body": {"ErrorInformation": {"error": 1, "message": "Ogiltig", "code": 2000588}},
                                  "times": 2})
    run = world.run()
    assert (run.status, run.delivery, len(world.notes())) == ("failed", "pending", 1)

    told = world.tell_follow_ups()

    assert told is not None and told.delivery == "delivered"
    assert len(world.notes()) == 1
    assert world.record("deals", "deal")[SYNC_STATUS] == "failed"


def test_a_job_delivered_again_while_its_outcome_is_being_told_only_tells_it(world):
    hubspot_fails(world, "POST", NOTES, times=3)
    job = world.job()
    world.run(job)
    world.hubspot_sim.faults.clear()

    again = world.run(job, attempt=2)  # SQS delivered the original message again

    assert (again.status, again.delivery, again.attempts) == ("succeeded", "delivered", 1)
    assert len(world.notes()) == 1 and len(world.invoices()) == 1


def test_a_run_that_failed_after_fortnox_made_its_invoice_tells_the_invoice_not_the_failure(world):
    world.fortnox_transport.lose("POST", "/3/invoices")  # Fortnox acts; the answer never comes
    callback_id = world.enroll()
    job = world.job(callback_id=callback_id)

    run = world.run(job, attempt=MAX_ATTEMPTS)

    [invoice] = world.invoices()
    assert (run.status, run.result["document_number"], run.delivery) == ("succeeded", invoice["DocumentNumber"],
                                                                          "delivered")
    [note] = world.notes()
    assert "was created as a draft" in note["hs_note_body"] or "already existed" in note["hs_note_body"]
    assert world.callback(callback_id)["completions"][0]["outputFields"]["hs_execution_state"] == "SUCCESS"
    assert world.record("deals", "deal")[SYNC_STATUS] == "succeeded"


def test_a_failure_waits_to_be_told_until_fortnox_can_say_there_is_no_document(world):
    world.fortnox_sim.faults.add({"kind": "status", "method": "*", "path": "/3/invoices.*", "status": 503,
                                  "times": None})
    callback_id = world.enroll()

    job = world.job(callback_id=callback_id)
    with pytest.raises(JobExhausted):  # the message goes on to the dead-letter queue
        world.run(job, attempt=MAX_ATTEMPTS)

    run = world.runs.get(world.portal, job.run_id)
    assert run is not None and (run.status, run.delivery, world.notes()) == ("failed", "pending", [])
    world.fortnox_sim.faults.clear()
    told = world.tell_follow_ups()
    assert told is not None and (told.status, told.delivery) == ("failed", "delivered")
    assert told.progress["verified"] == "none"
    assert "kept failing after several tries" in world.notes()[0]["hs_note_body"]
    assert world.callback(callback_id)["completions"][0]["outputFields"]["hs_execution_state"] == "FAIL_CONTINUE"


def test_a_second_trigger_adopting_the_document_writes_no_second_note(world):
    first = world.run()
    second = world.run(trigger_key="stage:closedwon:invoice")

    assert second.result["document_number"] == first.result["document_number"]
    assert second.progress["told:note"] == NOTED_BY_ANOTHER_RUN
    assert len(world.notes()) == 1 and len(world.invoices()) == 1


def test_a_callback_hubspot_refuses_for_good_is_given_up_and_shown_on_the_run(world):
    callback_id = world.enroll()
    hubspot_fails(world, "POST", CALLBACKS, times=None, status=404)

    run = world.run(callback_id=callback_id)

    assert (run.status, run.delivery) == ("succeeded", "gave_up")
    assert run.progress["gave_up:callback"] and "told:note" in run.progress
    assert world.follow_ups.sent == []


def test_a_callback_still_failing_when_the_execution_has_expired_is_given_up(world):
    callback_id = world.enroll()
    hubspot_fails(world, "POST", CALLBACKS, times=None)
    run = world.run(callback_id=callback_id)
    assert run.delivery == "pending"

    world.clock.now += CALLBACK_WINDOW_SECONDS
    told = world.tell_follow_ups()

    assert told is not None and told.delivery == "gave_up"
    assert told.progress["gave_up:callback"] == "UPSTREAM_UNAVAILABLE"


def test_before_the_last_attempt_a_transient_failure_still_goes_back_to_the_queue_untold(world):
    world.fortnox_sim.faults.add({"kind": "status", "method": "POST", "path": "/3/invoices", "status": 503})
    job = world.job()

    with pytest.raises(TransientError):
        world.run(job)

    assert world.notes() == [] and world.follow_ups.sent == []
    assert world.run(job, attempt=2).status == "succeeded"



def test_a_told_failure_is_not_run_again_by_a_later_delivery_of_its_job(world):
    world.fortnox_sim.faults.add({"kind": "status", "method": "POST", "path": "/3/invoices", "status": 400,
                                  "body": {"ErrorInformation": {"error": 1, "message": "Ogiltig", "code": 2000588}},
                                  "times": 1})
    job = world.job()
    failed = world.run(job)
    assert (failed.status, failed.delivery) == ("failed", "delivered")

    again = world.run(job, attempt=2)  # a duplicate delivery, or a redrive from the dead-letter queue

    assert (again.status, again.attempts, len(world.notes()), world.invoices()) == ("failed", 1, 1, [])


def test_after_the_last_try_the_spare_delivery_sends_the_told_failure_on_to_the_dead_letter_queue(world):
    world.fortnox_sim.faults.add({"kind": "status", "method": "POST", "path": "/3/invoices", "status": 503,
                                  "times": None})
    job = world.job()
    with pytest.raises(JobExhausted) as first:
        world.run(job, attempt=LAST_TRY)

    with pytest.raises(JobExhausted) as spare:
        world.run(job, attempt=LAST_TRY + 1)

    assert (first.value.repeat, spare.value.repeat) == (False, True)
    assert len(world.notes()) == 1


def test_a_last_try_whose_worker_died_is_tried_once_more_on_the_spare_delivery(world):
    job = world.job()
    world.runs.mark_running(world.portal, job.run_id)  # the last try began; its process died

    run = world.run(job, attempt=LAST_TRY + 1)

    assert (run.status, run.delivery, len(world.invoices()), len(world.notes())) == ("succeeded", "delivered", 1, 1)


def test_a_note_written_while_its_answer_was_lost_is_found_on_the_next_round_not_written_again(world):
    world.hubspot_sim.faults.add({"kind": "malformed", "method": "POST", "path": NOTES, "times": 1})

    run = world.run()
    assert (run.delivery, len(world.notes())) == ("pending", 1)  # HubSpot took it; its answer was lost

    told = world.tell_follow_ups()

    assert told is not None and told.delivery == "delivered" and told.progress["told:note"]
    assert len(world.notes()) == 1

"""The fault drill's checks (sandbox/drill.py), on small hand-made ends of a drill: each finding is
counted once, in the right total, and a clean end counts nothing."""

from __future__ import annotations

from typing import Any

from sandbox.drill import Findings, FiredTrigger, PlannedTrigger, check, make_plan, read_note

DEAL = "101"
RUN_OK, RUN_FAILED = "01J0000000000000000000000A", "01J0000000000000000000000B"


def success(number: str, note_id: int, headline: str = "was created as a draft.") -> Any:
    return read_note(note_id, f"<p><strong>Fortnox invoice {number}</strong> {headline}</p>")


def failure(run_id: str, note_id: int) -> Any:
    return read_note(note_id, "<p><strong>hubnox could not create the invoice.</strong></p>"
                              f"<p>Replay (run {run_id}).</p>")


def workflow(callback_id: str = "ap-1", document_type: str = "invoice") -> FiredTrigger:
    return FiredTrigger(PlannedTrigger(0, 0, "workflow", document_type), DEAL, accepted=True, callback_id=callback_id)


def run(run_id: str = RUN_OK, status: str = "succeeded", number: str = "1", **fields: Any) -> dict[str, Any]:
    return {"run_id": run_id, "kind": "create_document", "object_id": DEAL, "document_type": "invoice",
            "status": status, "trigger": "workflow", "callback_id": "ap-1", "finished_at": 1.0,
            "result": {"document_number": number} if status == "succeeded" else {}, **fields}


def findings(*, triggers=(), runs=(), callbacks=(), notes=(), properties=None, documents=(), dead_letters=()):
    found = Findings()
    check(found, triggers=list(triggers), runs=list(runs), callbacks=list(callbacks), notes={DEAL: list(notes)},
          deals={DEAL: properties or {"fortnox_document_number": "1"}}, documents=list(documents),
          dead_letters=list(dead_letters))
    return found


def invoice(number: str = "1", **fields: Any) -> dict[str, Any]:
    return {"type": "invoice", "DocumentNumber": number, "ExternalInvoiceReference1": DEAL, **fields}


COMPLETED = {"callbackId": "ap-1", "state": "COMPLETED", "executionState": "SUCCESS",
             "outputFields": {"documentNumber": "1"}}


def test_a_clean_end_counts_nothing():
    counts = findings(triggers=[workflow()], runs=[run()], callbacks=[COMPLETED], notes=[success("1", 5)],
                      documents=[invoice()]).counts

    assert (counts.duplicates, counts.lost, counts.untruthful, counts.dlq_unexplained) == (0, 0, 0, 0)
    assert (counts.runs_succeeded, counts.documents) == (1, 1)


def test_two_live_invoices_of_one_deal_are_a_duplicate_but_a_cancelled_one_is_not():
    assert findings(documents=[invoice("1"), invoice("2")], notes=[success("1", 5), success("2", 6)]
                    ).counts.duplicates == 1
    assert findings(documents=[invoice("1"), invoice("2", Cancelled=True)], notes=[success("1", 5)]
                    ).counts.duplicates == 0


def test_a_workflow_left_blocked_is_lost():
    found = findings(triggers=[workflow()], runs=[run()], notes=[success("1", 5)], documents=[invoice()],
                     callbacks=[{**COMPLETED, "state": "BLOCKED"}])

    assert found.counts.lost == 1
    assert list(found.problems) == ["lost: workflow left BLOCKED"]


def test_a_failed_run_without_its_failure_note_is_lost():
    failed = run(RUN_FAILED, "failed")
    callbacks = [{**COMPLETED, "executionState": "FAIL_CONTINUE", "outputFields": {}}]

    assert findings(triggers=[workflow()], runs=[failed], callbacks=callbacks,
                    properties={"fortnox_sync_status": "failed"}).counts.lost == 1
    assert findings(triggers=[workflow()], runs=[failed], callbacks=callbacks, notes=[failure(RUN_FAILED, 5)],
                    properties={"fortnox_sync_status": "failed"}).counts.lost == 0


def test_a_document_whose_newest_note_says_failure_is_untruthful():
    found = findings(runs=[run(), run(RUN_FAILED, "failed", finished_at=0.5, callback_id=None)],
                     notes=[success("1", 5), failure(RUN_FAILED, 6)], documents=[invoice()])

    assert found.counts.untruthful == 1
    assert list(found.problems) == ["untruthful: newest note says failure, Fortnox holds the document"]


def test_identical_notes_for_one_document_are_untruthful_but_an_already_existed_note_is_not():
    assert findings(runs=[run()], notes=[success("1", 5), success("1", 6), success("1", 7)],
                    documents=[invoice()]).counts.untruthful == 2
    assert findings(runs=[run()], notes=[success("1", 5), success("1", 6, "already existed.")],
                    documents=[invoice()]).counts.untruthful == 0


def test_a_card_click_answered_by_a_run_of_the_other_type_is_lost():
    click = FiredTrigger(PlannedTrigger(0, 0, "card", "invoice"), DEAL, accepted=True, run_id=RUN_OK)
    order_run = run(document_type="order", trigger="workflow")

    found = findings(triggers=[click], runs=[order_run], notes=[read_note(5, "<strong>Fortnox order 1</strong>")],
                     documents=[{**invoice(), "type": "order"}])

    assert list(found.problems) == ["lost: trigger answered by a run of another document type"]


def test_a_dead_letter_is_explained_only_by_a_failed_run_with_its_note():
    failed = run(RUN_FAILED, "failed", callback_id=None)
    letter = f'{{"run_id": "{RUN_FAILED}", "portal_id": "1"}}'

    assert findings(runs=[failed], notes=[failure(RUN_FAILED, 5)], dead_letters=[letter],
                    properties={"fortnox_sync_status": "failed"}).counts.dlq_unexplained == 0
    assert findings(runs=[failed], dead_letters=[letter, "not json"],
                    properties={"fortnox_sync_status": "failed"}).counts.dlq_unexplained == 2


def test_the_plan_comes_from_the_seed_alone():
    first, again, other = make_plan(7, 20, 60), make_plan(7, 20, 60), make_plan(8, 20, 60)

    assert first == again and first != other
    assert len(first.faults) == 60 and {t.deal for t in first.triggers} == set(range(20))

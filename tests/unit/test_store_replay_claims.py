"""The replay claim on the real run store (moto's DynamoDB, one request at a time as DynamoDB
serialises writes to an item): one replay per run, a claim taken over only from its old value, and
a replay run created only while the claim names it."""

from __future__ import annotations

import functools
import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from moto import mock_aws

from hubnox.jobs import submit, trigger_key
from hubnox.records import Run, RunRequest
from hubnox.services.replay_claim import replay_once
from hubnox.store.runs import ReplayClaimLost, RunStore
from hubnox.store.table import Table, create_table
from tests.support.aws import OneRequestAtATime
from tests.support.clock import FakeClock
from tests.support.queue import FollowUpQueue

TABLE = "hubnox-test"
PORTAL = "102670506"


@pytest.fixture(scope="module")
def dynamodb():
    return boto3.client("dynamodb", region_name="eu-north-1", aws_access_key_id="test",
                        aws_secret_access_key="test")


@pytest.fixture
def runs(dynamodb) -> RunStore:
    with mock_aws():
        create_table(dynamodb, TABLE)
        yield RunStore(Table(OneRequestAtATime(dynamodb), TABLE), FakeClock())


def failed(runs: RunStore) -> Run:
    run = runs.create(RunRequest(portal_id=PORTAL, kind="create_document", trigger="workflow", object_type="deal",
                                 object_id="904", trigger_key=trigger_key("workflow", "invoice")))
    return runs.fail(PORTAL, run.run_id, "FORTNOX_2000433", "Fortnox could not find customer 1042.")


def test_the_first_claim_wins_and_later_ones_learn_the_winner(runs):
    run = failed(runs)
    first, second = runs.new_id(), runs.new_id()

    assert runs.claim_replay(PORTAL, run.run_id, first) == first
    assert runs.claim_replay(PORTAL, run.run_id, second) == first
    assert runs.claim_replay(PORTAL, run.run_id, second, replacing="someone-else") == first
    assert runs.claim_replay(PORTAL, run.run_id, second, replacing=first) == second
    assert runs.get(PORTAL, run.run_id).replayed_by == second


def test_a_replay_run_is_created_only_while_the_claim_names_it(runs):
    run = failed(runs)
    mine, theirs = runs.new_id(), runs.new_id()
    runs.claim_replay(PORTAL, run.run_id, mine)
    runs.claim_replay(PORTAL, run.run_id, theirs, replacing=mine)

    with pytest.raises(ReplayClaimLost):
        runs.create(run.request, replay_of=run.run_id, run_id=mine)
    made = runs.create(run.request, replay_of=run.run_id, run_id=theirs)

    assert runs.get(PORTAL, mine) is None
    assert (made.run_id, made.replay_of) == (theirs, run.run_id)
    assert runs.get(PORTAL, theirs) == made


def test_threads_replaying_one_run_at_once_make_one_run_in_dynamodb(runs):
    run = failed(runs)
    queue = FollowUpQueue()
    bound = functools.partial(submit, runs, queue)
    start = threading.Barrier(6)

    def replay(_: int) -> str:
        start.wait()
        return replay_once(runs, bound, run).run_id

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = set(pool.map(replay, range(6)))

    replays = [r for r in runs.list_recent(PORTAL, 50) if r.replay_of == run.run_id]
    assert [r.run_id for r in replays] == list(answers)
    assert [job.run_id for job, _ in queue.sent] == list(answers)


class AnswerLostOnce:
    """A DynamoDB client whose writes land but whose first answer is lost: the AWS SDK retries the
    same request after its read timeout, and the retry finds what the first try wrote."""

    def __init__(self, client, *operations: str) -> None:
        self._client = client
        self._operations = operations

    def __getattr__(self, name: str):
        call = getattr(self._client, name)
        if name not in self._operations:
            return call

        def twice(**request):
            call(**request)  # lands; its answer never arrives
            return call(**request)  # the SDK's retry
        return twice


def test_a_replay_run_whose_create_was_retried_after_a_lost_answer_is_the_one_created(dynamodb):
    with mock_aws():
        create_table(dynamodb, TABLE)
        clock = FakeClock()
        runs = RunStore(Table(OneRequestAtATime(dynamodb), TABLE), clock)
        retried = RunStore(Table(AnswerLostOnce(OneRequestAtATime(dynamodb), "transact_write_items"), TABLE), clock)
        run = failed(runs)
        queue = FollowUpQueue()

        replayed = replay_once(retried, functools.partial(submit, retried, queue), run)

        assert replayed.queued is True
        assert retried.get(PORTAL, replayed.run_id).replay_of == run.run_id
        assert [job.run_id for job, _ in queue.sent] == [replayed.run_id]


def test_a_run_whose_create_was_retried_after_a_lost_answer_is_created_once(dynamodb):
    with mock_aws():
        create_table(dynamodb, TABLE)
        runs = RunStore(Table(AnswerLostOnce(OneRequestAtATime(dynamodb), "put_item"), TABLE), FakeClock())

        run = runs.create(RunRequest(portal_id=PORTAL, kind="create_document", trigger="workflow",
                                     object_type="deal", object_id="905"))

        assert runs.get(PORTAL, run.run_id).object_id == "905"
        assert [r.run_id for r in runs.list_recent(PORTAL)] == [run.run_id]

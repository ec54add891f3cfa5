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

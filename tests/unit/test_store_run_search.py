"""The sync log's search of runs on DynamoDB (moto): each filter through its index, filters combined,
paging over many runs, cursors that belong to another portal or search refused, history and
superseded failures kept on the runs."""

from __future__ import annotations

import base64

import pytest

from hubnox.errors import BadRequestError
from hubnox.records import RunFilter, RunRequest
from hubnox.store.runs import HISTORY_MAX, RunStore
from tests.support.clock import FakeClock

PORTAL, OTHER = "4242", "5353"
DAY = 86_400.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def runs(table, clock) -> RunStore:
    return RunStore(table, clock)


def document_run(runs: RunStore, clock: FakeClock, deal: str, *, portal: str = PORTAL, trigger: str = "workflow",
                 document_type: str = "invoice", name: str | None = None, number: str | None = None,
                 fail: bool = False, trigger_key: str | None = None):
    clock.advance(1)
    run = runs.create(RunRequest(portal_id=portal, kind="create_document", trigger=trigger, object_type="deal",
                                 object_id=deal, document_type=document_type,
                                 trigger_key=trigger_key or f"{trigger}:{document_type}"))
    runs.mark_running(portal, run.run_id)
    result = {"record_name": name or f"Deal {deal}", "document_type": document_type}
    if fail:
        return runs.fail(portal, run.run_id, "MISSING_ARTICLE", "Article X is missing", result)
    return runs.succeed(portal, run.run_id, {**result, "document_number": number or deal,
                                             "customer_number": "17", "customer_name": "Kund AB"})


def ids(page) -> list[str]:
    return [run.run_id for run in page.runs]


def test_each_filter_finds_its_runs_newest_first(runs, clock):
    ok = document_run(runs, clock, "101", name="Åsa Öberg consulting", number="9001")
    failed = document_run(runs, clock, "102", name="Acme rollout", fail=True)
    order = document_run(runs, clock, "103", trigger="poller", document_type="order", name="Acme support")
    clock.advance(1)
    products = runs.create(RunRequest(portal_id=PORTAL, kind="sync_products", trigger="settings"))
    clock.advance(1)
    customer = runs.create(RunRequest(portal_id=PORTAL, kind="sync_customer", trigger="workflow",
                                      object_type="company", object_id="555"))
    document_run(runs, clock, "101", portal=OTHER, name="Acme elsewhere")

    assert ids(runs.search(PORTAL, RunFilter())) == [customer.run_id, products.run_id, order.run_id,
                                                     failed.run_id, ok.run_id]
    assert ids(runs.search(PORTAL, RunFilter(status="failed"))) == [failed.run_id]
    assert ids(runs.search(PORTAL, RunFilter(status="succeeded"))) == [order.run_id, ok.run_id]
    assert ids(runs.search(PORTAL, RunFilter(status="queued"))) == [customer.run_id, products.run_id]
    assert ids(runs.search(PORTAL, RunFilter(trigger="poller"))) == [order.run_id]
    assert ids(runs.search(PORTAL, RunFilter(trigger="workflow"))) == [customer.run_id, failed.run_id, ok.run_id]
    assert ids(runs.search(PORTAL, RunFilter(trigger="product_sync"))) == [products.run_id]
    assert ids(runs.search(PORTAL, RunFilter(trigger="customer_sync"))) == [customer.run_id]
    assert ids(runs.search(PORTAL, RunFilter(document_type="order"))) == [order.run_id]
    assert ids(runs.search(PORTAL, RunFilter(document_type="invoice"))) == [failed.run_id, ok.run_id]
    assert ids(runs.search(PORTAL, RunFilter(text="101"))) == [ok.run_id]  # the deal id, this portal only
    assert ids(runs.search(PORTAL, RunFilter(text="9001"))) == [ok.run_id]  # the invoice number
    assert ids(runs.search(PORTAL, RunFilter(text="555"))) == [customer.run_id]
    assert ids(runs.search(PORTAL, RunFilter(text="asa OBERG"))) == [ok.run_id]  # accents and case folded
    assert ids(runs.search(PORTAL, RunFilter(text="acme"))) == [failed.run_id, order.run_id]  # by name
    assert ids(runs.search(PORTAL, RunFilter(text="nobody"))) == []
    found = runs.search(PORTAL, RunFilter(text="9001")).runs[0]
    assert (found.record_name, found.customer_number, found.customer_name) == ("Åsa Öberg consulting", "17", "Kund AB")


def test_filters_combine_and_dates_are_ranges_of_ids(runs, clock):
    start = clock.now
    early_fail = document_run(runs, clock, "201", fail=True, name="Acme one")
    clock.advance(2 * DAY)
    middle = clock.now
    late_fail = document_run(runs, clock, "202", fail=True, trigger="card", name="Acme two")
    late_ok = document_run(runs, clock, "203", trigger="card", name="Beta")

    assert ids(runs.search(PORTAL, RunFilter(status="failed", trigger="card"))) == [late_fail.run_id]
    assert ids(runs.search(PORTAL, RunFilter(created_from=middle))) == [late_ok.run_id, late_fail.run_id]
    assert ids(runs.search(PORTAL, RunFilter(created_to=middle))) == [early_fail.run_id]
    assert ids(runs.search(PORTAL, RunFilter(created_from=start, created_to=middle, status="failed"))) == [
        early_fail.run_id]
    assert ids(runs.search(PORTAL, RunFilter(text="acme", created_from=middle))) == [late_fail.run_id]
    assert ids(runs.search(PORTAL, RunFilter(text="acme", status="succeeded"))) == []
    assert ids(runs.search(PORTAL, RunFilter(text="203", document_type="invoice", trigger="card"))) == [
        late_ok.run_id]
    assert ids(runs.search(PORTAL, RunFilter(text="203", document_type="order"))) == []


def test_pages_follow_each_other_across_many_runs_without_gaps_or_repeats(runs, clock):
    made = [document_run(runs, clock, str(300 + n), fail=n % 3 == 0, name=f"Acme {n:03d}").run_id
            for n in range(125)]
    newest_first = list(reversed(made))

    def all_pages(run_filter: RunFilter, limit: int) -> tuple[list[str], int]:
        seen: list[str] = []
        cursor, pages = None, 0
        while True:
            page = runs.search(PORTAL, run_filter, limit=limit, cursor=cursor)
            seen += ids(page)
            pages += 1
            assert len(page.runs) <= limit
            if page.next_cursor is None:
                return seen, pages
            cursor = page.next_cursor

    everything, pages = all_pages(RunFilter(), 50)
    assert everything == newest_first and pages == 3
    failures, _ = all_pages(RunFilter(status="failed"), 10)
    assert failures == [run_id for n, run_id in reversed(list(enumerate(made))) if n % 3 == 0]
    named, _ = all_pages(RunFilter(text="acme 1"), 7)  # names Acme 100 .. Acme 124, in name order
    assert named == made[100:125]
    sparse, _ = all_pages(RunFilter(status="succeeded", document_type="order"), 20)
    assert sparse == []


def test_a_cursor_of_another_portal_or_search_or_made_up_is_refused(runs, clock):
    for n in range(4):
        document_run(runs, clock, str(400 + n), name=f"Acme {n}")
        document_run(runs, clock, str(400 + n), portal=OTHER, name=f"Acme {n}")
    mine = runs.search(PORTAL, RunFilter(), limit=2).next_cursor
    theirs = runs.search(OTHER, RunFilter(), limit=2).next_cursor
    by_name = runs.search(PORTAL, RunFilter(text="acme"), limit=2).next_cursor
    assert mine and theirs and by_name

    assert len(runs.search(PORTAL, RunFilter(), limit=2, cursor=mine).runs) == 2
    # A cursor from before a later start date (the filter changed under it) ends the search, without error.
    after_all = runs.search(PORTAL, RunFilter(created_from=clock.now + 1), cursor=mine)
    assert (after_all.runs, after_all.next_cursor) == ([], None)
    forged = base64.urlsafe_b64encode(f"{PORTAL}:../../etc".encode()).decode()
    for cursor, run_filter in ((theirs, RunFilter()), ("%%%", RunFilter()), (forged, RunFilter()),
                               (by_name, RunFilter()), (mine, RunFilter(text="acme")), ("x" * 500, RunFilter())):
        with pytest.raises(BadRequestError) as refused:
            runs.search(PORTAL, run_filter, cursor=cursor)
        assert refused.value.code == "INVALID_CURSOR"


def test_bad_filters_are_refused_with_the_reason(runs):
    with pytest.raises(BadRequestError, match="trigger must be one of"):
        runs.search(PORTAL, RunFilter(trigger="fax"))
    with pytest.raises(BadRequestError, match="from must be before to"):
        runs.search(PORTAL, RunFilter(created_from=2_000.0, created_to=1_000.0))


def test_each_try_is_kept_in_a_bounded_history(runs, clock):
    run = runs.create(RunRequest(portal_id=PORTAL, kind="create_document", trigger="card", object_type="deal",
                                 object_id="77"))
    for _ in range(12):
        runs.mark_running(PORTAL, run.run_id)
        clock.advance(5)
        runs.fail(PORTAL, run.run_id, "FORTNOX_DOWN", "Fortnox did not answer")
    stored = runs.get(PORTAL, run.run_id)
    assert stored is not None and stored.attempts == 12
    assert len(stored.history) == HISTORY_MAX
    assert [entry["event"] for entry in stored.history[-2:]] == ["started", "failed"]
    assert stored.history[-1]["error_code"] == "FORTNOX_DOWN"
    assert stored.history[-1]["at"] - stored.history[-2]["at"] == 5
    assert ids(runs.search(PORTAL, RunFilter(status="failed"))) == [run.run_id]  # the index follows the status
    runs.mark_running(PORTAL, run.run_id)
    assert ids(runs.search(PORTAL, RunFilter(status="running"))) == [run.run_id]
    assert ids(runs.search(PORTAL, RunFilter(status="failed"))) == []


def test_a_document_made_for_a_deal_supersedes_its_earlier_failures_of_that_trigger_only(runs, clock):
    first = document_run(runs, clock, "88", fail=True)
    second = document_run(runs, clock, "88", fail=True)
    other_trigger = document_run(runs, clock, "88", fail=True, trigger_key="stage:closedwon")
    other_deal = document_run(runs, clock, "89", fail=True)
    made = document_run(runs, clock, "88")
    later = document_run(runs, clock, "88", fail=True)

    def superseded_by(run_id: str) -> str | None:
        stored = runs.get(PORTAL, run_id)
        assert stored is not None
        return stored.superseded_by

    assert superseded_by(first.run_id) == made.run_id
    assert superseded_by(second.run_id) == made.run_id
    assert superseded_by(other_trigger.run_id) is None
    assert superseded_by(other_deal.run_id) is None
    assert superseded_by(later.run_id) is None
    assert superseded_by(made.run_id) is None

"""The price-list rows of new articles: left by a document run to a `set_article_prices` run of their
own, which writes each row once, puts the same price again on a retry, drops the rows of articles
deleted meanwhile (or of a Fortnox company the portal left), and never writes a note on the deal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from hubnox.errors import TransientError
from hubnox.fortnox.errors import FortnoxError
from hubnox.fortnox.models import Article
from hubnox.jobs import Job
from hubnox.records import ArticlePriceRow, RunRequest
from hubnox.signing import Signer
from hubnox.sync.attempt import Attempt
from hubnox.sync.delivery import Outcome
from hubnox.sync.jobs.article_prices import SetArticlePrices, follow_up_request
from hubnox.sync.runner import JobRunner
from hubnox.web.render import render
from tests.support.clock import FakeClock
from tests.support.fakes import DealLinks, Leases, Queue, Runs, Settings

PORTAL = "4711"
#: Fortnox's codes for "the price exists already" and "cannot find the article"
ALREADY_EXISTS, ARTICLE_NOT_FOUND, PRICE_LIST_NOT_FOUND = 2000372, 2000428, 2000430


class PriceList:
    """The Fortnox article and price calls the job makes, as the simulator answers them: a POST of a
    row that exists, or of an article that does not, is refused; a PUT of a missing row is a 404."""

    def __init__(self, *articles: str, lists: tuple[str, ...] = ("A",)) -> None:
        self.articles = set(articles)
        self.lists = set(lists)
        self.prices: dict[tuple[str, str], Decimal] = {}
        self.calls: list[tuple[str, str]] = []

    def get_article(self, article_number: str) -> Article | None:
        self.calls.append(("GET article", article_number))
        return Article(article_number=article_number, description=article_number) \
            if article_number in self.articles else None

    def set_price(self, price_list: str, article_number: str, price: Decimal, from_quantity: Decimal = Decimal(0),
                  *, new_article: bool = False) -> Any:
        key = (price_list, article_number)
        if not new_article:
            self.calls.append(("PUT price", article_number))
            if key in self.prices:
                self.prices[key] = price
                return None
        self.calls.append(("POST price", article_number))
        if price_list not in self.lists:
            raise FortnoxError(400, PRICE_LIST_NOT_FOUND, "Kan inte hitta prislistan")
        if article_number not in self.articles:
            raise FortnoxError(400, ARTICLE_NOT_FOUND, f"Kan inte hitta artikeln ({article_number})")
        if key in self.prices:
            raise FortnoxError(400, ALREADY_EXISTS, "Priset finns redan")
        self.prices[key] = price
        return None


def rows(*numbers_and_prices: tuple[str, str], price_list: str = "A") -> tuple[ArticlePriceRow, ...]:
    return tuple(ArticlePriceRow(price_list=price_list, article_number=number, price=price)
                 for number, price in numbers_and_prices)


def prices_job(*numbers_and_prices: tuple[str, str], tenant: str | None = "T1", price_list: str = "A") -> Job:
    return Job(run_id="01JDQ7Z5M3X8R2K9V4T6W0B1C7", portal_id=PORTAL, kind="set_article_prices",
               trigger="workflow", article_prices=rows(*numbers_and_prices, price_list=price_list),
               fortnox_tenant=tenant)


def attempt(job: Job, fortnox: PriceList) -> Attempt:
    def no_hubspot(portal: str) -> Any:
        raise AssertionError("the price-list rows never call HubSpot")
    return Attempt(job, 1, 4, no_hubspot, lambda portal: fortnox)  # type: ignore[arg-type]


def test_each_row_is_one_post_and_the_outcome_tells_hubspot_nothing() -> None:
    fortnox = PriceList("BOK-2", "KURS-1")
    result, outcome = SetArticlePrices(lambda portal: "T1")(
        attempt(prices_job(("BOK-2", "349"), ("KURS-1", "1490.50")), fortnox))
    assert fortnox.calls == [("POST price", "BOK-2"), ("POST price", "KURS-1")]
    assert fortnox.prices == {("A", "BOK-2"): Decimal("349"), ("A", "KURS-1"): Decimal("1490.50")}
    assert result["prices_set"] == ["BOK-2", "KURS-1"] and result["articles_gone"] == []
    assert result["record_name"] == "Price-list rows of new articles BOK-2, KURS-1"
    assert outcome == Outcome()  # no note, no property, no callback


def test_a_retry_puts_the_same_price_over_the_row_an_earlier_try_wrote() -> None:
    fortnox = PriceList("BOK-2")
    job = prices_job(("BOK-2", "349"))
    SetArticlePrices()(attempt(job, fortnox))
    fortnox.calls.clear()

    result, _ = SetArticlePrices()(attempt(job, fortnox))

    assert fortnox.calls == [("POST price", "BOK-2"), ("GET article", "BOK-2"), ("PUT price", "BOK-2")]
    assert fortnox.prices == {("A", "BOK-2"): Decimal("349")} and result["prices_set"] == ["BOK-2"]


def test_the_row_of_an_article_deleted_meanwhile_is_dropped_quietly_and_the_others_written(caplog) -> None:
    fortnox = PriceList("KURS-1")  # BOK-2 was deleted in Fortnox before the job ran
    result, _ = SetArticlePrices()(attempt(prices_job(("BOK-2", "349"), ("KURS-1", "10")), fortnox))
    assert result["articles_gone"] == ["BOK-2"] and result["prices_set"] == ["KURS-1"]
    assert fortnox.prices == {("A", "KURS-1"): Decimal("10")}
    assert "deleted in Fortnox before its price-list row was written" in caplog.text


def test_rows_of_a_fortnox_company_the_portal_no_longer_uses_are_dropped_without_a_call() -> None:
    fortnox = PriceList("BOK-2")
    result, _ = SetArticlePrices(lambda portal: "T2")(attempt(prices_job(("BOK-2", "349"), tenant="T1"), fortnox))
    assert fortnox.calls == [] and result["dropped"] == "fortnox_company_changed"


def test_a_refusal_that_is_not_about_the_row_fails_the_run_with_fortnoxs_words() -> None:
    fortnox = PriceList("BOK-2", lists=())  # the price list was deleted
    with pytest.raises(FortnoxError) as refused:
        SetArticlePrices()(attempt(prices_job(("BOK-2", "349")), fortnox))
    assert refused.value.fortnox_code == PRICE_LIST_NOT_FOUND


# -- the runner sends it --------------------------------------------------------------------------------


class World:
    """A runner over fakes whose `create_document` kind is a stand-in that 'creates' the articles given."""

    def __init__(self, created: list[ArticlePriceRow], *, fails: Exception | None = None) -> None:
        self.clock = FakeClock()
        self.runs = Runs(self.clock)
        self.queue = Queue()
        self.fortnox = PriceList(*(row.article_number for row in created))
        self.runner = JobRunner(
            hubspot=lambda portal: None,  # type: ignore[arg-type,return-value]
            fortnox=lambda portal: self.fortnox,  # type: ignore[arg-type,return-value]
            runs=self.runs, deal_links=DealLinks(self.clock), settings=Settings(), leases=Leases(self.clock),
            notes=render, signer=Signer("article-prices-tests-key-0123456789"), public_base="https://h.example",
            follow_ups=self.queue, fortnox_company=lambda portal: "T1", clock=self.clock, sleep=self.clock.sleep)

        def document(current: Attempt) -> tuple[dict[str, Any], Outcome]:
            current.article_prices.extend(created)
            if fails is not None:
                raise fails
            return {"document_number": "1"}, Outcome()
        # the document kind's own work is tested against the simulators; here only what the runner adds
        self.runner._kinds["create_document"] = document

    def deal_run(self) -> Job:
        run = self.runs.create(RunRequest(portal_id=PORTAL, kind="create_document", trigger="workflow",
                                          object_type="deal", object_id="904", document_type="invoice",
                                          trigger_key="workflow:invoice"))
        return Job.for_run(run)


def test_a_deal_run_that_created_articles_sends_one_prices_run_with_their_rows_and_the_company() -> None:
    world = World(list(rows(("BOK-2", "349"), ("KURS-1", "10"))))
    deal = world.runner.run(world.deal_run())

    [sent] = world.queue.jobs
    assert deal.status == "succeeded"
    assert (sent.kind, sent.portal_id, sent.trigger, sent.fortnox_tenant) == (
        "set_article_prices", PORTAL, "workflow", "T1")
    assert sent.article_prices == rows(("BOK-2", "349"), ("KURS-1", "10"))
    assert sent.object_type is None and sent.object_id is None  # no record, so never a note
    assert world.fortnox.prices == {}  # nothing on the deal's path

    done = world.runner.run(sent)

    assert done.status == "succeeded" and done.final and Outcome.of(done).note is None
    assert world.fortnox.prices == {("A", "BOK-2"): Decimal("349"), ("A", "KURS-1"): Decimal("10")}
    assert world.queue.jobs == [sent]  # it sends nothing of its own


def test_a_deal_run_that_created_no_article_sends_nothing() -> None:
    world = World([])
    assert world.runner.run(world.deal_run()).status == "succeeded"
    assert world.queue.jobs == []


def test_a_try_that_failed_after_creating_articles_still_sends_their_rows() -> None:
    # the retry finds the articles in Fortnox and creates none, so this try's rows are the only ones
    world = World(list(rows(("BOK-2", "349"))), fails=TransientError("Fortnox timed out"))
    with pytest.raises(TransientError):
        world.runner.run(world.deal_run())
    assert [job.kind for job in world.queue.jobs] == ["set_article_prices"]


def test_a_failed_prices_run_fails_in_the_sync_log_without_a_note_on_the_deal() -> None:
    world = World(list(rows(("BOK-2", "349"))))
    world.runner.run(world.deal_run())
    [sent] = world.queue.jobs
    world.fortnox.lists.clear()  # the price list was deleted in Fortnox meanwhile

    failed = world.runner.run(sent)

    assert (failed.status, failed.error_code) == ("failed", f"FORTNOX_{PRICE_LIST_NOT_FOUND}")
    assert failed.record_name == "Price-list rows of new articles BOK-2"
    assert (failed.outcome or {}).get("note") is None and failed.delivery != "pending"


def test_when_the_queue_is_down_the_deal_run_still_succeeds_and_the_prices_run_is_left_failed_to_replay() -> None:
    world = World(list(rows(("BOK-2", "349"))))
    world.queue.down = RuntimeError("SQS is unreachable")

    deal = world.runner.run(world.deal_run())

    assert deal.status == "succeeded"
    [prices] = [run for run in world.runs.runs.values() if run.kind == "set_article_prices"]
    assert (prices.status, prices.error_code) == ("failed", "NOT_QUEUED")
    assert prices.article_prices == rows(("BOK-2", "349"))  # a replay carries the same rows


def test_the_rows_are_sent_once_each_even_when_a_deal_repeats_a_product() -> None:
    parent = Job(run_id="01JDQ7Z5M3X8R2K9V4T6W0B1C7", portal_id=PORTAL, kind="create_document", trigger="poller",
                 object_type="deal", object_id="904")
    request = follow_up_request(parent, [*rows(("BOK-2", "349")), *rows(("BOK-2", "349"))], "T1")
    assert request.article_prices == rows(("BOK-2", "349")) and request.trigger == "poller"

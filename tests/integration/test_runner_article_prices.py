"""New articles against the Fortnox simulator: the deal's run makes each with one POST and its
document with the line items' own prices; the articles' price-list rows arrive when the follow-up
run is carried out, once, without a note on the deal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hubnox.jobs import Job
from tests.integration.test_runner import World, seed, table  # noqa: F401 (the fixture)

CENT = Decimal("0.01")
NEW_LINES = [{"name": "Kurslitteratur", "quantity": "2", "price": "349", "hs_sku": "BOK-2"},
             {"name": "Onboarding workshop", "quantity": "1", "price": "12000", "hs_sku": "HNX-ONB"},
             {"name": "Kurslitteratur again", "quantity": "1", "price": "349", "hs_sku": "BOK-2"}]


def price_rows(world: World) -> dict[str, tuple[str, str]]:
    return {p["ArticleNumber"]: (p["PriceList"], cents(p["Price"])) for p in world.fortnox_company()["Prices"]}


def cents(amount: Any) -> str:
    """An amount as the simulator's JSON gives it (a number), as text with two decimals."""
    return str(Decimal(str(amount)).quantize(CENT))


def prices_job(world: World) -> Job:
    [job] = [job for job, _ in world.follow_ups.sent if job.kind == "set_article_prices"]
    return job


def made(table: Any) -> World:  # noqa: F811
    world = World(table, seed(NEW_LINES))
    world.fortnox_sim.log.clear()
    deal = world.run()
    assert deal.status == "succeeded"
    return world


def test_a_deal_with_new_articles_posts_each_once_and_its_price_rows_arrive_with_the_follow_up(table):  # noqa: F811
    world = made(table)

    calls = world.fortnox_calls()
    assert calls.count(("POST", "/3/articles")) == 2
    assert not [call for call in calls if call[1].startswith("/3/prices")]
    [invoice] = world.invoices()
    assert [(row["ArticleNumber"], cents(row["Price"])) for row in invoice["InvoiceRows"]] == [
        ("BOK-2", "349.00"), ("HNX-ONB", "12000.00"), ("BOK-2", "349.00")]
    assert price_rows(world) == {}  # not yet: nothing but the note waits on them
    assert len(world.notes()) == 1

    world.fortnox_sim.log.clear()
    job = prices_job(world)
    world.follow_ups.sent.clear()
    done = world.runner.run(job)

    assert done.status == "succeeded" and done.result["prices_set"] == ["BOK-2", "HNX-ONB"]
    assert world.fortnox_calls() == [("POST", "/3/prices"), ("POST", "/3/prices")]
    assert price_rows(world) == {"BOK-2": ("A", "349.00"), "HNX-ONB": ("A", "12000.00")}
    assert len(world.notes()) == 1  # the follow-up tells the deal nothing
    assert world.follow_ups.sent == []


def test_the_follow_up_run_again_puts_the_same_prices_and_makes_no_second_row(table):  # noqa: F811
    world = made(table)
    job = prices_job(world)
    world.runner.run(job)
    again = world.runs.create(job.request)  # a replay of it from the sync log carries the same rows

    done = world.runner.run(Job.for_run(again))

    assert done.status == "succeeded" and done.result["prices_set"] == ["BOK-2", "HNX-ONB"]
    assert len(world.fortnox_company()["Prices"]) == 2
    assert price_rows(world) == {"BOK-2": ("A", "349.00"), "HNX-ONB": ("A", "12000.00")}


def test_an_article_deleted_before_the_follow_up_runs_loses_its_row_quietly(table):  # noqa: F811
    world = made(table)
    token = world.fortnox._api.tokens.token()
    deleted = world.fx_http.delete("/3/articles/BOK-2", headers={"Authorization": f"Bearer {token}"})
    assert deleted.status_code == 204, deleted.text

    done = world.runner.run(prices_job(world))

    assert done.status == "succeeded"
    assert (done.result["prices_set"], done.result["articles_gone"]) == (["HNX-ONB"], ["BOK-2"])
    assert price_rows(world) == {"HNX-ONB": ("A", "12000.00")}

"""The `set_article_prices` job: the price-list rows of the articles a document run created.

A deal whose line items need new Fortnox articles (the `create` article policy) creates each one
with one `POST /3/articles` on the deal's path. Fortnox takes no price on the article itself
(`SalesPrice` is read-only: prices live in `/3/prices`), so the article's row in the price list is a
second call; the document's rows carry their own prices, so that row changes nothing about the
document being made, only the price Fortnox suggests on documents made there by hand later. So the
runner leaves the rows to this follow-up (`follow_up_request`), sent once the run's outcome has been
told, as a run of its own: admitted by the company's Fortnox budget like any job, retried by the
queue, listed in the sync log (never a note on the deal), and replayable there when it fails.

Each row is one `POST /3/prices` (a new article has no rows yet). The job is idempotent: a retry
whose POST Fortnox refuses because the row is there already puts the same price again (PUT). An
article deleted in Fortnox meanwhile has its row dropped with a log line, and so has every row when
the portal is connected to another Fortnox company by the time the job runs.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal

from hubnox.fortnox.errors import FortnoxError
from hubnox.jobs import Job
from hubnox.observability import logger
from hubnox.records import ArticlePriceRow, RunRequest
from hubnox.sync.attempt import Attempt
from hubnox.sync.delivery import Outcome
from hubnox.sync.ports import FortnoxArticles

#: the most article numbers the run's name in the sync log lists
NAMED_ARTICLES = 5


def follow_up_request(parent: Job, rows: list[ArticlePriceRow], fortnox_tenant: str | None) -> RunRequest:
    """The `set_article_prices` run for the rows `parent`'s try left: same portal and trigger, no CRM
    record (so it writes no note), the Fortnox company the articles were created in."""
    unique = list(dict.fromkeys(rows))
    return RunRequest(portal_id=parent.portal_id, kind="set_article_prices", trigger=parent.trigger,
                      article_prices=tuple(unique), fortnox_tenant=fortnox_tenant)


class SetArticlePrices:
    """Carries out `set_article_prices` jobs; `fortnox_company` answers a portal's connected
    Fortnox company (tenant id), None when it is not known (then the job's company is trusted)."""

    def __init__(self, fortnox_company: Callable[[str], str | None] | None = None) -> None:
        self._company = fortnox_company

    def __call__(self, current: Attempt) -> tuple[dict[str, Any], Outcome]:
        """Write each row; answers which rows were set and which were dropped, and an empty outcome."""
        job = current.job
        rows = list(job.article_prices or ())
        numbers = [row.article_number for row in rows]
        named = ", ".join(numbers[:NAMED_ARTICLES]) + (f" and {len(numbers) - NAMED_ARTICLES} more"
                                                         if len(numbers) > NAMED_ARTICLES else "")
        current.learned["record_name"] = f"Price-list rows of new articles {named}" if rows else "No price-list rows"
        result: dict[str, Any] = {"record_name": current.learned["record_name"], "prices_set": [],
                                  "articles_gone": [], "dropped": None}
        if job.fortnox_tenant and self._company is not None:
            connected = self._company(job.portal_id)
            if connected != job.fortnox_tenant:
                logger.info("the portal's Fortnox company changed since the articles were created; "
                            "their price-list rows are dropped",
                            extra={"run_id": job.run_id, "articles": numbers})
                result["dropped"] = "fortnox_company_changed"
                return result, Outcome()
        for row in rows:
            if _put(current.fortnox, row) == "set":
                result["prices_set"].append(row.article_number)
            else:
                logger.info("the article was deleted in Fortnox before its price-list row was written; "
                            "the row is dropped",
                            extra={"run_id": job.run_id, "article": row.article_number, "price_list": row.price_list})
                result["articles_gone"].append(row.article_number)
        return result, Outcome()


def _put(fortnox: FortnoxArticles, row: ArticlePriceRow) -> Literal["set", "gone"]:
    """Write one row: POST it (one call, a new article has no rows); when Fortnox refuses, `gone` if
    the article no longer exists, else PUT the same price over the row a retry finds there.
    A refusal of the PUT (the price list deleted, say) is raised: the run fails in the sync log."""
    price = Decimal(row.price)
    try:
        fortnox.set_price(row.price_list, row.article_number, price, new_article=True)
        return "set"
    except FortnoxError:
        if fortnox.get_article(row.article_number) is None:
            return "gone"
    fortnox.set_price(row.price_list, row.article_number, price)
    return "set"

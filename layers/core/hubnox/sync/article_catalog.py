"""A Fortnox client whose article look-ups come from the tenant's copy of its article list
(`hubnox.store.article_cache`), brought up to date with one `lastmodified` read per deal.

`find_articles` for any number of SKUs:
- a complete copy read for changes less than `REFRESH_SKIP_SECONDS` ago (another deal of the tenant
  just did): no call;
- a complete copy: one `GET /3/articles?lastmodified=<cursor - OVERLAP>` (more only when over 500
  articles changed since), then the copy answers; a number it lacks is one Fortnox lacks, so a new
  article costs no look-up;
- no copy yet: one SKU is read with one GET; more read the full list once and start the copy.
Articles hubnox creates or reads are copied at once. Fortnox never lists deletions: a document
refused for an article the copy still had (`ARTICLE_NOT_FOUND`) marks the copy stale (`stale()`),
and the next look-up reads the full list again (the document job retries once at once).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Any, cast

from hubnox.fortnox.models import Article
from hubnox.sync.ports import ArticleCatalog, Fortnox
from hubnox.sync.status_model import stockholm_minute

#: a copy read for changes this recently serves without another read (a burst of one tenant's deals)
REFRESH_SKIP_SECONDS = 30.0
#: how far back each read of changes starts before the last one (Fortnox's minute-granular, zone-less
#: `lastmodified`, and clocks that differ)
OVERLAP = timedelta(minutes=2)
_FORMAT = "%Y-%m-%d %H:%M"
#: the most SKUs still read one GET each while there is no copy yet (from two on, the full list's
#: first page costs no more, and starts the copy that makes every later deal one call)
FEW_SKUS = 1


class CachedArticles:
    """`Fortnox` for one tenant, with article look-ups served from the tenant's copy."""

    def __init__(self, fortnox: Fortnox, catalog: ArticleCatalog, tenant: str, clock: Callable[[], float]) -> None:
        self._fortnox = fortnox
        self._catalog = catalog
        self._tenant = tenant
        self._clock = clock

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fortnox, name)

    def find_articles(self, article_numbers: Collection[str]) -> dict[str, Article | None]:
        wanted = list(dict.fromkeys(article_numbers))
        if not wanted:
            return {}
        state = self._catalog.state(self._tenant)
        if state is None or not state.complete:
            if len(wanted) <= FEW_SKUS:
                found = self._fortnox.find_articles(wanted)
                self._catalog.remember(self._tenant, [a for a in found.values() if a is not None])
                return found
            cursor = stockholm_minute(self._clock())  # before the read: a change during it is read again
            articles = self._fortnox.list_articles()
            self._catalog.replace(self._tenant, articles, cursor)
            by_number = {a.article_number: a for a in articles if a.article_number}
            return {number: by_number.get(number) for number in wanted}
        if self._clock() - state.refreshed_at >= REFRESH_SKIP_SECONDS:
            cursor = stockholm_minute(self._clock())
            since = (datetime.strptime(state.cursor, _FORMAT) - OVERLAP).strftime(_FORMAT)
            self._catalog.remember(self._tenant, self._fortnox.list_articles_changed(since))
            self._catalog.refreshed(self._tenant, cursor)
        known = self._catalog.find(self._tenant, wanted)
        return {number: known.get(number) for number in wanted}

    def get_article(self, article_number: str) -> Article | None:
        article = self._fortnox.get_article(article_number)
        if article is not None:
            self._catalog.remember(self._tenant, [article])
        return article

    def create_article(self, article: Article) -> Article:
        made = self._fortnox.create_article(article)
        self._catalog.remember(self._tenant, [made])
        return made

    def update_article(self, article_number: str, article: Article) -> Article:
        changed = self._fortnox.update_article(article_number, article)
        self._catalog.remember(self._tenant, [changed])
        return changed

    def stale(self) -> None:
        """Fortnox refused an article the copy had: read the whole list on the next look-up."""
        self._catalog.stale(self._tenant)


def with_article_catalog(fortnox: Fortnox, catalog: ArticleCatalog, tenant: str,
                         clock: Callable[[], float]) -> Fortnox:
    """`fortnox` with its article look-ups served from the tenant's copy."""
    return cast(Fortnox, CachedArticles(fortnox, catalog, tenant, clock))

"""A copy of each Fortnox company's article list in the table, so a deal's articles cost one call at
most whatever their number (`hubnox.sync.article_catalog`).

Fortnox's article list has no filter by several numbers and no bulk read: a deal with 40 SKUs cost
40 GETs, or every page of a big catalogue. The copy is kept per tenant in one partition
(`ARTICLES#<tenant>`): a `META` item (`cursor`, the Fortnox time of the last read of changes;
`refreshed_at`, epoch seconds of that read; `complete`) and `BUCKETS` items holding the articles,
one attribute per article number (the article as JSON), spread by a hash of the number so that
any set of numbers is one BatchGetItem and no item nears DynamoDB's 400 KB (32 buckets hold tens
of thousands of articles). Remembering an article writes only its own attribute, so concurrent
runs never overwrite each other's articles; the full reload (`replace`) rewrites every bucket.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterable

from hubnox.fortnox.models import Article
from hubnox.store.table import Clock, Key, Table
from hubnox.sync.ports import CatalogState

BUCKETS = 32
_PREFIX = "A#"


def _pk(tenant: str) -> str:
    return f"ARTICLES#{tenant}"


def _meta_key(tenant: str) -> Key:
    return {"pk": _pk(tenant), "sk": "META"}


def _bucket(number: str) -> int:
    return zlib.crc32(number.encode()) % BUCKETS


def _bucket_key(tenant: str, bucket: int) -> Key:
    return {"pk": _pk(tenant), "sk": f"BUCKET#{bucket:02d}"}


def _dump(article: Article) -> str:
    return json.dumps(article.model_dump(mode="json", by_alias=True, exclude_none=True))


class ArticleCacheStore:
    """Each tenant's articles by number, with the state of the copy."""

    def __init__(self, table: Table, clock: Clock = time.time) -> None:
        self._table = table
        self._clock = clock

    def state(self, tenant: str) -> CatalogState | None:
        """The copy's state, or None before the first full read."""
        item = self._table.get(_meta_key(tenant))
        if item is None:
            return None
        return CatalogState(cursor=str(item.get("cursor") or ""), refreshed_at=float(item.get("refreshed_at") or 0),
                            complete=bool(item.get("complete")))

    def find(self, tenant: str, numbers: Iterable[str]) -> dict[str, Article]:
        """The copied articles among `numbers` (absent ones are left out), in one BatchGetItem."""
        wanted = set(numbers)
        buckets = sorted({_bucket(number) for number in wanted})
        found: dict[str, Article] = {}
        for item in self._table.batch_get([_bucket_key(tenant, bucket) for bucket in buckets], consistent=True):
            for name, value in item.items():
                if name.startswith(_PREFIX) and name[len(_PREFIX):] in wanted:
                    found[name[len(_PREFIX):]] = Article.model_validate(json.loads(str(value)))
        return found

    def remember(self, tenant: str, articles: Iterable[Article]) -> None:
        """Copy articles that were created or changed: each writes only its own attribute."""
        by_bucket: dict[int, dict[str, str]] = {}
        for article in articles:
            if article.article_number:
                by_bucket.setdefault(_bucket(article.article_number), {})[
                    _PREFIX + article.article_number] = _dump(article)
        for bucket, fields in by_bucket.items():
            self._table.update(_bucket_key(tenant, bucket), set_fields=fields)

    def refreshed(self, tenant: str, cursor: str) -> None:
        """Record a read of changes up to `cursor` (Fortnox time, read before the changes were)."""
        self._table.update(_meta_key(tenant), set_fields={"cursor": cursor, "refreshed_at": self._clock()})

    def replace(self, tenant: str, articles: Iterable[Article], cursor: str) -> None:
        """Replace the whole copy with a full list read after `cursor`; the copy is complete from now."""
        by_bucket: dict[int, dict[str, str]] = {bucket: {} for bucket in range(BUCKETS)}
        for article in articles:
            if article.article_number:
                by_bucket[_bucket(article.article_number)][_PREFIX + article.article_number] = _dump(article)
        for bucket, fields in by_bucket.items():
            self._table.put({**_bucket_key(tenant, bucket), **fields})
        self._table.put({**_meta_key(tenant), "cursor": cursor, "refreshed_at": self._clock(), "complete": True})

    def stale(self, tenant: str) -> None:
        """Mark the copy incomplete (Fortnox refused an article it listed: deleted since), so the next
        deal reads the full list again."""
        self._table.update(_meta_key(tenant), set_fields={"complete": False})

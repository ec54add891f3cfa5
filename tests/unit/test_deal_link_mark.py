"""The deal link's create mark: written before every create, refused once a document is recorded, and
what makes the next run look the deal up in Fortnox."""

from __future__ import annotations

from hubnox.store.deal_links import DealLinkStore
from tests.support.clock import FakeClock


def test_the_mark_is_written_on_a_claim_without_a_document_and_refused_after_one(table) -> None:
    links = DealLinkStore(table, FakeClock())
    assert not links.mark_creating("1", "d1", "workflow:invoice", "run-a")  # no claim yet
    links.claim("1", "d1", "workflow:invoice", "run-a")

    assert links.mark_creating("1", "d1", "workflow:invoice", "run-a")
    marked = links.get("1", "d1", "workflow:invoice")
    assert marked is not None and (marked.create_run_id, marked.create_started_at) == ("run-a", 1_800_000_000.0)
    assert marked.document_number is None

    links.set_document("1", "d1", "workflow:invoice", "invoice", "7")
    assert not links.mark_creating("1", "d1", "workflow:invoice", "run-b")
    assert [link.create_run_id for link in links.for_deal("1", "d1")] == ["run-a"]

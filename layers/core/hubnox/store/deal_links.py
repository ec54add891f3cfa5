"""Deal links: the record that a deal has (or is getting) its one Fortnox document per trigger.

Half of hubnox's "exactly one document per deal and trigger" guarantee: the first run to claim a
deal and trigger wins, every later claim gets the winner's link back. The other half is the
look-up by `ExternalInvoiceReference1` in Fortnox, which covers a winner that died between
creating the document and recording it here: every create is preceded by a conditional mark on
the link (`mark_creating`), and a run that finds the mark without a document (or a link it did
not claim, or is a retry) looks the deal up before creating.
"""

from __future__ import annotations

import time

from hubnox.errors import NotFoundError
from hubnox.records import DealLink
from hubnox.store.table import Clock, ConditionFailed, Item, Table, deal_link_key, deal_links_prefix, portal_partition


class DealLinkStore:
    """Claims deals for runs and records the documents made for them."""

    def __init__(self, table: Table, clock: Clock = time.time) -> None:
        self._table = table
        self._clock = clock

    def claim(self, portal_id: str, deal_id: str, trigger_key: str, run_id: str) -> DealLink:
        """Claim the deal and trigger for `run_id`, or return the existing claim if there is one.

        Exactly one of any number of concurrent claims wins; compare `claimed_by(run_id)`.
        """
        link = DealLink(
            portal_id=portal_id,
            deal_id=deal_id,
            trigger_key=trigger_key,
            run_id=run_id,
            claimed_at=self._clock(),
        )
        try:
            self._table.put(
                {**deal_link_key(portal_id, deal_id, trigger_key), **link.model_dump(exclude_none=True)},
                condition="attribute_not_exists(pk)",
            )
        except ConditionFailed as failure:
            if failure.item is None:
                raise
            return _link(failure.item)
        return link

    def forget_document(self, portal_id: str, deal_id: str, trigger_key: str, document_number: str) -> bool:
        """Forget the recorded document if it is still `document_number` (it was cancelled in Fortnox),
        so the deal can get a new one; False when another document is recorded by now."""
        try:
            self._table.update(
                deal_link_key(portal_id, deal_id, trigger_key),
                set_fields={"document_type": None, "document_number": None, "documented_at": None},
                condition="document_number = :number",
                values={":number": document_number},
            )
        except ConditionFailed:
            return False
        return True

    def mark_creating(self, portal_id: str, deal_id: str, trigger_key: str, run_id: str) -> bool:
        """Record that `run_id` is about to create the deal's document, before it asks Fortnox: from now
        on a run that finds this mark without a document number looks the deal up in Fortnox first.

        False when a document is recorded by now (or the claim is gone): the caller must not create.
        """
        try:
            self._table.update(
                deal_link_key(portal_id, deal_id, trigger_key),
                set_fields={"create_started_at": self._clock(), "create_run_id": run_id},
                condition="attribute_exists(pk) AND attribute_not_exists(document_number)",
            )
        except ConditionFailed:
            return False
        return True

    def set_document(
        self, portal_id: str, deal_id: str, trigger_key: str, document_type: str, document_number: str
    ) -> DealLink:
        """Record the document made for a claimed deal; recording the same document again is harmless.

        Raises `NotFoundError` without a claim, and `ConditionFailed` if another document is recorded.
        """
        try:
            item = self._table.update(
                deal_link_key(portal_id, deal_id, trigger_key),
                set_fields={
                    "document_type": document_type,
                    "document_number": document_number,
                    "documented_at": self._clock(),
                },
                condition=(
                    "attribute_exists(pk) AND (attribute_not_exists(document_number)"
                    " OR (document_number = :number AND document_type = :type))"
                ),
                values={":number": document_number, ":type": document_type},
            )
        except ConditionFailed as failure:
            if failure.item is None:
                raise NotFoundError(
                    f"Deal {deal_id} of portal {portal_id} has no claim for trigger {trigger_key}."
                ) from failure
            existing = _link(failure.item)
            raise ConditionFailed(
                f"Deal {deal_id} already has {existing.document_type} {existing.document_number}"
                f" for trigger {trigger_key}",
                item=failure.item,
            ) from failure
        return _link(item)

    def get(self, portal_id: str, deal_id: str, trigger_key: str) -> DealLink | None:
        """The claim on the deal and trigger, or None."""
        item = self._table.get(deal_link_key(portal_id, deal_id, trigger_key))
        return _link(item) if item else None

    def for_deal(self, portal_id: str, deal_id: str) -> list[DealLink]:
        """Every trigger's claim on the deal (the status sync checks a document is the deal's this way)."""
        return [_link(item) for item in self._table.query(portal_partition(portal_id), consistent=True,
                                                          sk_prefix=deal_links_prefix(deal_id))]

    def documents_by_deal(self, portal_id: str) -> dict[str, set[tuple[str, str]]]:
        """Every recorded (document type, number) of the portal by deal, in one paged query: the status
        sync's first cycle checks hundreds of documents at once, one query per deal would not fit its
        invocation."""
        documents: dict[str, set[tuple[str, str]]] = {}
        for item in self._table.query(portal_partition(portal_id), sk_prefix=deal_links_prefix()):
            if item.get("document_number"):
                documents.setdefault(str(item["deal_id"]), set()).add(
                    (str(item.get("document_type") or ""), str(item["document_number"])))
        return documents

    def oldest_documented_at(self, portal_id: str) -> float | None:
        """When the portal's oldest recorded document was made, or None before its first: where the
        status sync's first read starts. Reads every link of the portal, once per portal."""
        times = [float(item["documented_at"]) for item in self._table.query(
            portal_partition(portal_id), sk_prefix=deal_links_prefix()) if item.get("documented_at")]
        return min(times) if times else None


def _link(item: Item) -> DealLink:
    return DealLink.model_validate({k: v for k, v in item.items() if k not in ("pk", "sk")})

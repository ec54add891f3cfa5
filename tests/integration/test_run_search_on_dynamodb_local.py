"""The sync log's search on a real DynamoDB engine (DynamoDB Local): the same stories as on moto
(`tests.unit.test_store_run_search`), so the key conditions, filters on indexes, page limits and
sparse indexes behave as DynamoDB itself has them. Each test gets a fresh table of its own."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from hubnox.store.table import Table, create_table
from tests.integration.test_stores_on_dynamodb_local import dynamodb  # noqa: F401 (the engine, once a module)
from tests.unit.test_store_run_search import (  # noqa: F401 (collected here again, on DynamoDB Local)
    clock,
    runs,
    test_a_cursor_of_another_portal_or_search_or_made_up_is_refused,
    test_a_document_made_for_a_deal_supersedes_its_earlier_failures_of_that_trigger_only,
    test_each_filter_finds_its_runs_newest_first,
    test_each_try_is_kept_in_a_bounded_history,
    test_filters_combine_and_dates_are_ranges_of_ids,
    test_pages_follow_each_other_across_many_runs_without_gaps_or_repeats,
)

_names = itertools.count()


@pytest.fixture
def table(dynamodb: Any) -> Iterator[Table]:  # noqa: F811
    name = f"hubnox-search-{next(_names)}"
    create_table(dynamodb, name)
    try:
        yield Table(dynamodb, name)
    finally:
        dynamodb.delete_table(TableName=name)

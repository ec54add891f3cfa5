"""The shapes of outside ids: each is read in one place and answered in one spelling, or refused with a
message, before it can become a DynamoDB key or a URL path segment."""

from __future__ import annotations

import pytest

from hubnox.errors import BadRequestError
from hubnox.ids import (
    callback_id,
    fortnox_customer_number,
    fortnox_document_number,
    hubspot_id,
    hubspot_id_or_none,
    is_run_id,
    path_segment_text,
)
from hubnox.store.runs import new_run_id


@pytest.mark.parametrize(("value", "expected"), [
    (102670506, "102670506"), ("904", "904"), (" 904 ", "904"), ("0904", "904"), (2**63 - 1, str(2**63 - 1)),
])
def test_hubspot_ids_are_positive_whole_numbers_in_ascii_digits(value, expected):
    assert hubspot_id_or_none(value) == expected


@pytest.mark.parametrize("value", [
    "١٢٣", "²", "12³", "𝟗", "", " ", "0", 0, -4, True, 1.5, "1e3", "-1", "9" * 21, 10**20, None, [], {"id": 1},
])
def test_anything_else_is_no_hubspot_id(value):
    assert hubspot_id_or_none(value) is None
    with pytest.raises(BadRequestError, match="portalId must be a HubSpot id"):
        hubspot_id(value, "portalId")


def test_run_ids_are_the_ulids_hubnox_makes_or_uuids():
    assert is_run_id(new_run_id(1795771402.9))
    assert is_run_id("0b8e3f2a-7c1d-4e5f-9a6b-1c2d3e4f5a6b")
    for other in ["..", "a/b", "", "01JDQ7Z5M3", "01jdq7z5m3x8r2k9v4t6w0b1c7", "x" * 3000, None, 42]:
        assert not is_run_id(other)


def test_a_callback_id_is_a_bounded_printable_ascii_token():
    assert callback_id(" ap-102670506-56776413549-7-0 ") == "ap-102670506-56776413549-7-0"
    with pytest.raises(BadRequestError, match="no callbackId"):
        callback_id("   ")
    for other in ["x" * 257, "a b", "ab\x00", "åäö", "\u0661"]:
        with pytest.raises(BadRequestError, match="printable ASCII"):
            callback_id(other)


def test_fortnox_numbers_follow_fortnoxs_rules_and_never_name_dot_or_dot_dot():
    assert fortnox_customer_number("K-100/2") == "K-100/2"
    assert fortnox_document_number("1001") == "1001"
    for read, bad in [(fortnox_customer_number, ".."), (fortnox_customer_number, "K 1"),
                      (fortnox_customer_number, "K1\n"),
                      (fortnox_document_number, "١٢٣"), (fortnox_document_number, "..")]:
        with pytest.raises(BadRequestError):
            read(bad)
    with pytest.raises(BadRequestError):
        path_segment_text("..")
    assert path_segment_text("A") == "A"

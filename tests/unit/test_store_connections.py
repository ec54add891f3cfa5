"""Connections: tokens sealed at rest, one Fortnox company per portal, versioned token writes."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from moto import mock_aws

from hubnox.records import FortnoxConnection, HubSpotConnection
from hubnox.store.connections import ConnectionStore, FortnoxAlreadyConnected, FortnoxCompanyTaken
from hubnox.store.crypto import TokenCipher, TokenCipherError
from hubnox.store.portals import PortalDataStore
from hubnox.store.table import StaleVersion, Table, connection_key, create_table
from tests.support.aws import OneRequestAtATime

TABLE = "hubnox-test"
REGION = "eu-north-1"
PORTAL = "102670506"

HUBSPOT_ACCESS = "CJSP5qf1KhICAQEYs-gDIIGOBii1hQIyGQAf3xBKmlwHjX7OIpuIFEavB2-qYAGQsF4"
HUBSPOT_REFRESH = "na1-6f6b-7e5d-4c3b-8a2a-1f0e9d8c7b6a"
FORTNOX_ACCESS = "eyJhbGciOiJSUzI1NiJ9.eyJ0ZW5hbnRJZCI6MTIzNDU2fQ.c2lnbmF0dXJlLWZvcnRub3g"
FORTNOX_REFRESH = "a7302e6b-b1cb-4508-b884-cf9abd9a51de"


@pytest.fixture(scope="module")
def clients():
    # Built once: moto intercepts every client while a mock is active, and clients are slow to build.
    credentials = {"region_name": REGION, "aws_access_key_id": "test", "aws_secret_access_key": "test"}
    return boto3.client("dynamodb", **credentials), boto3.client("kms", **credentials)


@pytest.fixture
def aws(clients):
    dynamodb, kms = clients
    with mock_aws():
        create_table(dynamodb, TABLE)
        key_id = kms.create_key(Description="hubnox tokens")["KeyMetadata"]["KeyId"]
        yield dynamodb, kms, key_id


@pytest.fixture
def cipher(aws) -> TokenCipher:
    _, kms, key_id = aws
    return TokenCipher(kms, key_id)


@pytest.fixture
def store(aws, cipher) -> ConnectionStore:
    dynamodb, _, _ = aws
    return ConnectionStore(Table(dynamodb, TABLE), cipher)


def hubspot(portal_id: str = PORTAL, **changes) -> HubSpotConnection:
    values = {
        "portal_id": portal_id,
        "hub_domain": "acme.hubspot.com",
        "access_token": HUBSPOT_ACCESS,
        "refresh_token": HUBSPOT_REFRESH,
        "access_expires_at": 1_800_001_800,
        "scopes": ("oauth", "crm.objects.deals.read"),
        "installed_at": 1_800_000_000,
        "installed_by_user": "admin@acme.se",
    }
    return HubSpotConnection.model_validate({**values, **changes})


def fortnox(portal_id: str = PORTAL, **changes) -> FortnoxConnection:
    values = {
        "portal_id": portal_id,
        "tenant_id": "123456",
        "company_name": "Acme AB",
        "auth_mode": "authorization_code",
        "access_token": FORTNOX_ACCESS,
        "refresh_token": FORTNOX_REFRESH,
        "access_expires_at": 1_800_003_600,
        "scopes": ("invoice", "customer", "article"),
        "connected_at": 1_800_000_100,
    }
    return FortnoxConnection.model_validate({**values, **changes})


def raw_table(aws) -> str:
    dynamodb, _, _ = aws
    return json.dumps(dynamodb.scan(TableName=TABLE)["Items"])


# --- sealing --------------------------------------------------------------------------------------


def test_a_token_opens_for_the_portal_it_was_sealed_for(cipher):
    sealed = cipher.encrypt("secret-token", PORTAL)

    assert "secret-token" not in sealed
    assert cipher.decrypt(sealed, PORTAL) == "secret-token"


def test_a_token_sealed_for_one_portal_does_not_open_for_another(cipher):
    sealed = cipher.encrypt("secret-token", PORTAL)

    with pytest.raises(TokenCipherError, match="does not decrypt") as failure:
        cipher.decrypt(sealed, "999")
    assert "secret-token" not in str(failure.value)


def test_a_mangled_ciphertext_is_refused(cipher):
    with pytest.raises(TokenCipherError, match="not base64"):
        cipher.decrypt("not*base64", PORTAL)


# --- HubSpot --------------------------------------------------------------------------------------


def test_no_token_is_stored_in_clear_anywhere_in_the_table(aws, store):
    store.put_hubspot(hubspot())
    store.put_fortnox(fortnox())
    store.update_fortnox_tokens(
        PORTAL,
        access_token="rotated-access-0001",
        refresh_token="rotated-refresh-0002",
        access_expires_at=1_800_007_200,
        expected_version=1,
    )

    raw = raw_table(aws)

    for token in (
        HUBSPOT_ACCESS,
        HUBSPOT_REFRESH,
        FORTNOX_ACCESS,
        "rotated-access-0001",
        "rotated-refresh-0002",
    ):
        assert token not in raw
    assert "acme.hubspot.com" in raw  # the scan does see the items


def test_an_installation_reads_back_with_its_tokens(store):
    saved = store.put_hubspot(hubspot())

    read = store.get_hubspot(PORTAL)

    assert read == saved
    assert read.access_token.get_secret_value() == HUBSPOT_ACCESS
    assert read.refresh_token.get_secret_value() == HUBSPOT_REFRESH
    assert read.scopes == ("oauth", "crm.objects.deals.read")
    assert read.status == "active"
    assert read.version == 1


def test_tokens_never_show_in_a_connections_repr_or_json(store):
    connection = store.put_hubspot(hubspot())

    shown = repr(connection) + str(connection) + connection.model_dump_json()

    assert HUBSPOT_ACCESS not in shown
    assert HUBSPOT_REFRESH not in shown


def test_a_portal_without_an_installation_reads_as_none(store):
    assert store.get_hubspot(PORTAL) is None
    assert store.get_fortnox(PORTAL) is None


def test_sealed_tokens_copied_to_another_portal_do_not_open(aws, store):
    dynamodb, _, _ = aws
    store.put_hubspot(hubspot())
    item = dynamodb.get_item(TableName=TABLE, Key=_raw_key(PORTAL, "hubspot"))["Item"]
    item.update(_raw_key("666", "hubspot"))
    item["portal_id"] = {"S": "666"}
    dynamodb.put_item(TableName=TABLE, Item=item)

    with pytest.raises(TokenCipherError):
        store.get_hubspot("666")


def test_sealed_hubspot_tokens_moved_into_the_fortnox_item_are_refused(aws, store):
    dynamodb, _, _ = aws
    store.put_hubspot(hubspot())
    store.put_fortnox(fortnox())
    hubspot_item = dynamodb.get_item(TableName=TABLE, Key=_raw_key(PORTAL, "hubspot"))["Item"]
    dynamodb.update_item(
        TableName=TABLE,
        Key=_raw_key(PORTAL, "fortnox"),
        UpdateExpression="SET tokens = :t",
        ExpressionAttributeValues={":t": hubspot_item["tokens"]},
    )

    with pytest.raises(TokenCipherError, match="belong elsewhere"):
        store.get_fortnox(PORTAL)


def test_installed_portals_are_listed_for_the_poller_until_uninstalled(store):
    store.put_hubspot(hubspot("1001"))
    store.put_hubspot(hubspot("1002"))
    store.put_hubspot(hubspot("1001"))  # a reinstall lists it once

    assert sorted(store.list_portals()) == ["1001", "1002"]

    assert store.mark_uninstalled("1001") is True

    assert store.list_portals() == ["1002"]


def test_uninstalling_drops_the_tokens_and_keeps_fortnox(aws, store):
    store.put_hubspot(hubspot())
    store.put_fortnox(fortnox())

    store.mark_uninstalled(PORTAL)
    uninstalled = store.get_hubspot(PORTAL)

    assert uninstalled.status == "uninstalled"
    assert uninstalled.access_token.get_secret_value() == ""
    assert uninstalled.version == 2
    dynamodb, _, _ = aws
    assert "tokens" not in dynamodb.get_item(TableName=TABLE, Key=_raw_key(PORTAL, "hubspot"))["Item"]
    assert store.get_fortnox(PORTAL).status == "active"


def test_uninstalling_a_portal_that_never_installed_reports_false(store):
    assert store.mark_uninstalled("404") is False


def test_an_uninstalled_portal_is_not_marked_broken(store):
    store.put_hubspot(hubspot())
    store.mark_uninstalled(PORTAL)

    assert store.mark_broken(PORTAL, "hubspot", "401 on refresh") is False
    assert store.get_hubspot(PORTAL).status == "uninstalled"


def test_a_reinstall_after_uninstall_is_active_again(store):
    store.put_hubspot(hubspot())
    store.mark_uninstalled(PORTAL)

    reinstalled = store.put_hubspot(hubspot(installed_at=1_900_000_000))

    assert reinstalled.status == "active"
    assert reinstalled.access_token.get_secret_value() == HUBSPOT_ACCESS
    assert store.list_portals() == [PORTAL]


def test_a_hubspot_refresh_over_the_version_it_read_is_saved(store):
    read = store.put_hubspot(hubspot())

    refreshed = store.update_hubspot_tokens(
        PORTAL,
        access_token="new-access",
        refresh_token=HUBSPOT_REFRESH,
        access_expires_at=1_800_003_600,
        expected_version=read.version,
    )

    assert refreshed.version == read.version + 1
    assert store.get_hubspot(PORTAL).access_token.get_secret_value() == "new-access"
    assert store.get_hubspot(PORTAL).access_expires_at == 1_800_003_600


# --- Fortnox --------------------------------------------------------------------------------------


def test_a_portal_connects_to_one_fortnox_company_only(store):
    store.put_fortnox(fortnox())

    with pytest.raises(FortnoxAlreadyConnected, match="Acme AB") as failure:
        store.put_fortnox(fortnox(tenant_id="777777", company_name="Other AB", access_token="other"))

    assert failure.value.connected_tenant_id == "123456"
    assert "Disconnect" in failure.value.hint
    assert store.get_fortnox(PORTAL).tenant_id == "123456"
    assert store.get_fortnox(PORTAL).access_token.get_secret_value() == FORTNOX_ACCESS


def test_a_broken_connection_still_blocks_another_company(store):
    store.put_fortnox(fortnox())
    store.mark_broken(PORTAL, "fortnox", "Invalid refresh token")

    with pytest.raises(FortnoxAlreadyConnected):
        store.put_fortnox(fortnox(tenant_id="777777"))


def test_reconnecting_the_same_company_replaces_its_tokens(store):
    first = store.put_fortnox(fortnox())
    store.mark_broken(PORTAL, "fortnox", "Invalid refresh token")

    again = store.put_fortnox(fortnox(access_token="fresh-access", refresh_token="fresh-refresh"))

    assert again.status == "active"
    assert again.broken_reason is None
    assert again.version == first.version + 1
    assert store.get_fortnox(PORTAL).refresh_token.get_secret_value() == "fresh-refresh"


def test_after_a_disconnect_another_company_can_connect(store):
    store.put_fortnox(fortnox())

    removed = store.delete_fortnox(PORTAL)
    other = store.put_fortnox(fortnox(tenant_id="777777", company_name="Other AB"))

    assert removed.refresh_token.get_secret_value() == FORTNOX_REFRESH  # so it can be revoked
    assert other.tenant_id == "777777"
    assert store.delete_fortnox("404") is None


def test_a_refresh_over_a_newer_version_is_refused_and_keeps_the_newer_tokens(store):
    read = store.put_fortnox(fortnox())
    store.update_fortnox_tokens(
        PORTAL,
        access_token="access-2",
        refresh_token="refresh-2",
        access_expires_at=1_800_007_200,
        expected_version=read.version,
    )

    with pytest.raises(StaleVersion) as failure:
        store.update_fortnox_tokens(
            PORTAL,
            access_token="access-late",
            refresh_token="refresh-late",
            access_expires_at=1_800_007_300,
            expected_version=read.version,
        )

    assert (failure.value.expected, failure.value.actual) == (1, 2)
    assert "version 2" in str(failure.value) and "version 1" in str(failure.value)
    assert store.get_fortnox(PORTAL).refresh_token.get_secret_value() == "refresh-2"


def test_a_refresh_after_a_disconnect_is_refused(store):
    read = store.put_fortnox(fortnox())
    store.delete_fortnox(PORTAL)

    with pytest.raises(StaleVersion, match="no longer exists"):
        store.update_fortnox_tokens(
            PORTAL,
            access_token="a",
            refresh_token="r",
            access_expires_at=1,
            expected_version=read.version,
        )
    assert store.get_fortnox(PORTAL) is None


def test_a_refresh_already_under_way_when_marked_broken_still_lands_and_revives(store):
    read = store.put_fortnox(fortnox())
    assert store.mark_broken(PORTAL, "fortnox", "401 from Fortnox") is True
    broken = store.get_fortnox(PORTAL)
    assert (broken.status, broken.broken_reason, broken.version) == (
        "broken",
        "401 from Fortnox",
        read.version,
    )

    revived = store.update_fortnox_tokens(
        PORTAL,
        access_token="access-2",
        refresh_token="refresh-2",
        access_expires_at=1_800_007_200,
        expected_version=read.version,
    )

    assert revived.status == "active"
    assert revived.broken_reason is None


def test_client_credentials_connections_have_no_refresh_token(store):
    saved = store.put_fortnox(fortnox(auth_mode="client_credentials", refresh_token=""))

    assert store.get_fortnox(PORTAL) == saved
    assert saved.refresh_token.get_secret_value() == ""


def test_marking_a_missing_connection_broken_reports_false(store):
    assert store.mark_broken(PORTAL, "fortnox", "whatever") is False
    assert store.get_fortnox(PORTAL) is None


def _raw_key(portal_id: str, system: str) -> dict:
    key = connection_key(portal_id, system)
    return {"pk": {"S": key["pk"]}, "sk": {"S": key["sk"]}}


# --- one portal per Fortnox company ---------------------------------------------------------------


def test_a_company_connected_to_one_portal_is_refused_to_another_which_writes_nothing(store, aws):
    first = store.put_fortnox(fortnox())
    with pytest.raises(FortnoxCompanyTaken) as refused:
        store.put_fortnox(fortnox(portal_id="999"))
    assert refused.value.holder_portal_id == PORTAL
    assert f"Disconnect it from portal {PORTAL}'s hubnox settings first" in (refused.value.hint or "")
    assert store.get_fortnox("999") is None
    kept = store.get_fortnox(PORTAL)
    assert kept is not None and kept.version == first.version
    assert store.fortnox_company_holder("123456") == PORTAL


def test_disconnecting_or_deleting_the_portal_releases_the_company(store, aws):
    dynamodb, _, _ = aws
    store.put_fortnox(fortnox())
    store.delete_fortnox(PORTAL)
    assert store.fortnox_company_holder("123456") is None
    store.put_fortnox(fortnox(portal_id="999"))
    PortalDataStore(Table(dynamodb, TABLE)).delete_portal("999")
    assert store.fortnox_company_holder("123456") is None
    assert store.put_fortnox(fortnox(portal_id="777")).portal_id == "777"


def test_portals_racing_for_one_company_leave_exactly_one_connected(aws, cipher):
    dynamodb, _, _ = aws
    racing = ConnectionStore(Table(OneRequestAtATime(dynamodb), TABLE), cipher)
    portals = [str(900 + n) for n in range(6)]

    def connect(portal_id: str) -> bool:
        try:
            racing.put_fortnox(fortnox(portal_id=portal_id))
        except FortnoxCompanyTaken:
            return False
        return True

    with ThreadPoolExecutor(max_workers=len(portals)) as pool:
        won = [portal for portal, ok in zip(portals, pool.map(connect, portals), strict=True) if ok]
    assert len(won) == 1
    assert racing.fortnox_company_holder("123456") == won[0]
    assert [p for p in portals if racing.get_fortnox(p) is not None] == won


def test_a_claim_left_behind_by_a_failed_release_is_taken_over(store, aws):
    dynamodb, _, _ = aws
    store.put_fortnox(fortnox())
    Table(dynamodb, TABLE).delete(connection_key(PORTAL, "fortnox"))  # disconnected; the release never ran
    assert store.fortnox_company_holder("123456") == PORTAL
    assert store.put_fortnox(fortnox(portal_id="999")).portal_id == "999"
    assert store.fortnox_company_holder("123456") == "999"


def test_the_connected_fortnox_company_is_read_without_opening_the_tokens(store, monkeypatch):
    assert store.fortnox_tenant(PORTAL) is None
    connection = store.put_fortnox(fortnox())
    monkeypatch.setattr(store, "get_fortnox", lambda portal_id: pytest.fail("the tokens were opened"))
    assert store.fortnox_tenant(PORTAL) == connection.tenant_id

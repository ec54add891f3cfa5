"""A portal's HubSpot and Fortnox connections, with their tokens sealed at rest.

Each connection is one item (see `hubnox.store.table`). Its access and refresh tokens are sealed
together, as one KMS ciphertext bound to the portal, in the attribute `tokens`; nothing else in the
item is secret. The item's `version` counts token writes: a refresh states the version it read
and its write fails with `StaleVersion` when another writer got there first, so a refresh never
overwrites newer tokens (Fortnox refresh tokens are single use: losing one logs the user out).
Marking a connection broken leaves the version alone, so a refresh that was already under way
still lands and revives the connection.

A Fortnox company serves one portal at a time: connecting writes the connection and a claim on
the company (`FORTNOX#<tenantId>`) in one transaction, refused while another portal holds the
claim; disconnecting (and deleting the portal's data) releases it.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from pydantic import SecretStr

from hubnox.errors import TransientError, UserFixableError
from hubnox.records import (
    FortnoxConnection,
    FortnoxStatus,
    HubSpotConnection,
    HubSpotStatus,
    System,
)
from hubnox.store.crypto import TokenCipher, TokenCipherError
from hubnox.store.table import (
    REGISTRY_PK,
    UNINSTALLED_PK,
    ConditionFailed,
    Item,
    StaleVersion,
    Table,
    TransactionCancelled,
    connection_key,
    fortnox_claim_key,
    registry_key,
    uninstalled_key,
)

_SECRET_FIELDS = frozenset({"access_token", "refresh_token"})


class FortnoxAlreadyConnected(UserFixableError):
    """The portal is already connected to another Fortnox company."""

    code = "FORTNOX_ALREADY_CONNECTED"

    def __init__(self, portal_id: str, tenant_id: str, company_name: str = "") -> None:
        name = company_name or f"tenant {tenant_id}"
        super().__init__(
            f"Portal {portal_id} is already connected to the Fortnox company {name}.",
            hint="Disconnect the current Fortnox company in the hubnox settings before connecting another.",
        )
        self.connected_tenant_id = tenant_id


class FortnoxCompanyTaken(UserFixableError):
    """The Fortnox company is already connected to another HubSpot portal."""

    code = "FORTNOX_COMPANY_ALREADY_CONNECTED"

    def __init__(self, tenant_id: str, holder_portal_id: str) -> None:
        super().__init__(
            f"This Fortnox company is already connected to HubSpot portal {holder_portal_id}.",
            hint=f"Disconnect it from portal {holder_portal_id}'s hubnox settings first, then connect it here.",
        )
        self.tenant_id = tenant_id
        self.holder_portal_id = holder_portal_id


class ConnectionStore:
    """Reads and writes connections; seals tokens on the way in and opens them on the way out."""

    def __init__(self, table: Table, cipher: TokenCipher) -> None:
        self._table = table
        self._cipher = cipher

    # --- HubSpot ----------------------------------------------------------------------------------

    def get_hubspot(self, portal_id: str) -> HubSpotConnection | None:
        """The portal's HubSpot connection with its tokens opened, or None if never installed."""
        item = self._table.get(connection_key(portal_id, "hubspot"))
        return self._hubspot(item) if item else None

    def hubspot_status(self, portal_id: str) -> HubSpotStatus | None:
        """The status of the portal's HubSpot installation, or None if never installed. Reads the
        item without opening its tokens: no KMS call, so a function without use of the key may ask."""
        item = self._table.get(connection_key(portal_id, "hubspot"))
        return item.get("status", "active") if item else None

    def put_hubspot(self, connection: HubSpotConnection) -> HubSpotConnection:
        """Save an installation (first or repeated) and list the portal in the registry.

        Replaces whatever was stored, tokens included (an uninstall's date and reason go too), clears
        the portal's uninstall mark, and returns it with its new version.
        """
        stored = self._write(connection_key(connection.portal_id, "hubspot"), "hubspot", connection)
        self._table.put(
            {
                **registry_key(connection.portal_id),
                "portal_id": connection.portal_id,
                "hub_domain": connection.hub_domain,
                "registered_at": connection.installed_at,
            }
        )
        if connection.uninstalled_at is None:
            self._table.delete(uninstalled_key(connection.portal_id))
        return self._hubspot(stored, _tokens_of(connection))

    def update_hubspot_tokens(
        self,
        portal_id: str,
        *,
        access_token: str,
        refresh_token: str,
        access_expires_at: float,
        expected_version: int,
    ) -> HubSpotConnection:
        """Save refreshed tokens if the stored version is still `expected_version`.

        Raises `StaleVersion` (naming both versions) otherwise; the connection becomes active.
        """
        item = self._update_tokens(
            "hubspot", portal_id, access_token, refresh_token, access_expires_at, expected_version
        )
        return self._hubspot(item, _tokens(access_token, refresh_token))

    def mark_uninstalled(self, portal_id: str, *, at: float | None = None, reason: str | None = None) -> bool:
        """Record that the app was uninstalled: drop the tokens and leave the poller's registry.

        The Fortnox connection, the settings and the runs stay, so a reinstall picks up where the
        portal left off; `at` (epoch seconds) is kept, with a mark in the `UNINSTALLED` partition,
        for the retention purge (`uninstalled_portals`). Safe to repeat: only the first call marks
        the connection and answers True; a repeat, or a portal that never installed, answers False.
        """
        self._table.delete(registry_key(portal_id))
        fields: dict[str, Any] = {"status": "uninstalled", "tokens": None, "broken_reason": None}
        if at is not None:
            fields["uninstalled_at"] = at
        if reason:
            fields["uninstall_reason"] = reason
        try:
            self._table.update(
                connection_key(portal_id, "hubspot"),
                set_fields=fields,
                add_fields={"version": 1},
                condition="attribute_exists(pk) AND #status <> :uninstalled",
                names={"#status": "status"},
                values={":uninstalled": "uninstalled"},
            )
        except ConditionFailed as failure:
            if failure.item is not None and at is not None:
                # Marked before (maybe before uninstalls were dated): keep the first time, add the mark.
                self._mark(portal_id, float(failure.item.get("uninstalled_at") or at), overwrite=False)
            return False
        if at is not None:
            self._mark(portal_id, at, overwrite=True)
        return True

    def _mark(self, portal_id: str, at: float, *, overwrite: bool) -> None:
        with contextlib.suppress(ConditionFailed):
            self._table.put({**uninstalled_key(portal_id), "portal_id": portal_id, "uninstalled_at": at},
                            condition=None if overwrite else "attribute_not_exists(pk)")

    def clear_uninstall_mark(self, portal_id: str) -> None:
        """Forget the portal's uninstall mark (the retention purge, for a portal installed again)."""
        self._table.delete(uninstalled_key(portal_id))

    def uninstalled_portals(self) -> dict[str, float]:
        """Every portal whose app was uninstalled and not installed again, with when (epoch seconds)."""
        return {str(item["portal_id"]): float(item["uninstalled_at"]) for item in self._table.query(UNINSTALLED_PK)}

    def list_portals(self) -> list[str]:
        """The ids of every installed portal, for the poller."""
        return [item["portal_id"] for item in self._table.query(REGISTRY_PK)]

    # --- Fortnox ----------------------------------------------------------------------------------

    def get_fortnox(self, portal_id: str) -> FortnoxConnection | None:
        """The portal's Fortnox connection with its tokens opened, or None if not connected."""
        item = self._table.get(connection_key(portal_id, "fortnox"))
        return self._fortnox(item) if item else None

    def fortnox_status(self, portal_id: str) -> FortnoxStatus | None:
        """The status of the portal's Fortnox connection, or None if not connected. Reads the item
        without opening its tokens (no KMS call): the poller's tick asks it for every portal."""
        item = self._table.get(connection_key(portal_id, "fortnox"))
        return item.get("status", "active") if item else None

    def fortnox_tenant(self, portal_id: str) -> str | None:
        """The Fortnox company (tenant id) the portal is connected to, or None. Reads the item without
        opening its tokens (no KMS call): the worker's admission asks it for every job."""
        item = self._table.get(connection_key(portal_id, "fortnox"))
        return str(item["tenant_id"]) if item and item.get("tenant_id") else None

    def put_fortnox(self, connection: FortnoxConnection) -> FortnoxConnection:
        """Connect the portal to a Fortnox company, unless either is connected elsewhere.

        Connecting the same company again (a reconnect) replaces the stored tokens. A different
        company raises `FortnoxAlreadyConnected` until `delete_fortnox` disconnects the first; a
        company another portal holds raises `FortnoxCompanyTaken`. Both writes happen or neither.
        A claim whose portal no longer has the company (its release failed half way) is taken over,
        in a transaction that checks that portal's connection too.
        """
        portal_id, tenant_id = connection.portal_id, connection.tenant_id
        write = self._table.update_request(
            connection_key(portal_id, "fortnox"),
            **self._fields(connection),
            add_fields={"version": 1},
            condition="attribute_not_exists(pk) OR tenant_id = :tenant",
            values={":tenant": tenant_id},
        )
        stale: str | None = None
        for _ in range(2):
            operations = [("Update", write), ("Put", self._claim_request(tenant_id, portal_id, stale))]
            if stale is not None:
                operations.append(("ConditionCheck", self._table.check_request(
                    connection_key(stale, "fortnox"), "attribute_not_exists(pk) OR tenant_id <> :tenant",
                    values={":tenant": tenant_id})))
            try:
                self._table.transact_write(operations)
            except TransactionCancelled as refused:
                current = self._table.get(connection_key(portal_id, "fortnox"))
                if current is not None and current.get("tenant_id") != tenant_id:
                    raise FortnoxAlreadyConnected(
                        portal_id, current["tenant_id"], current.get("company_name", "")
                    ) from refused
                holder = self.fortnox_company_holder(tenant_id)
                if holder is None or holder == portal_id:
                    raise TransientError("The Fortnox connection changed while it was saved; try again.") \
                        from refused
                held = self._table.get(connection_key(holder, "fortnox"))
                if stale is not None or (held is not None and held.get("tenant_id") == tenant_id):
                    raise FortnoxCompanyTaken(tenant_id, holder) from refused
                stale = holder
                continue
            stored = self._table.get(connection_key(portal_id, "fortnox"))
            if stored is None:
                raise TransientError("The Fortnox connection was removed while it was saved; try again.")
            return self._fortnox(stored, _tokens_of(connection))
        raise AssertionError("unreachable")  # the second attempt returns or raises

    def _claim_request(self, tenant_id: str, portal_id: str, stale: str | None) -> dict[str, Any]:
        """The claim of a company for `portal_id`: free, already ours, or (`stale`) left behind by another."""
        names = [":portal"] + ([":stale"] if stale is not None else [])
        return self._table.put_request(
            {**fortnox_claim_key(tenant_id), "tenant_id": tenant_id, "portal_id": portal_id},
            condition=f"attribute_not_exists(pk) OR portal_id IN ({', '.join(names)})",
            values={":portal": portal_id, **({":stale": stale} if stale is not None else {})},
        )

    def update_fortnox_tokens(
        self,
        portal_id: str,
        *,
        access_token: str,
        refresh_token: str,
        access_expires_at: float,
        expected_version: int,
    ) -> FortnoxConnection:
        """Save refreshed tokens if the stored version is still `expected_version`.

        Raises `StaleVersion` (naming both versions) otherwise, also after a disconnect.
        """
        item = self._update_tokens(
            "fortnox", portal_id, access_token, refresh_token, access_expires_at, expected_version
        )
        return self._fortnox(item, _tokens(access_token, refresh_token))

    def delete_fortnox(self, portal_id: str) -> FortnoxConnection | None:
        """Disconnect Fortnox, release the company for other portals, and return the connection that
        was removed (to revoke its token)."""
        item = self._table.delete(connection_key(portal_id, "fortnox"))
        if item is None:
            return None
        self.release_fortnox_company(str(item["tenant_id"]), portal_id)
        return self._fortnox(item)

    def release_fortnox_company(self, tenant_id: str, portal_id: str) -> None:
        """Let other portals connect the company, if `portal_id` still holds it."""
        with contextlib.suppress(ConditionFailed):  # another portal holds it now, or no one does
            self._table.delete(fortnox_claim_key(tenant_id), condition="portal_id = :portal",
                               values={":portal": portal_id})

    def fortnox_company_holder(self, tenant_id: str) -> str | None:
        """The portal the Fortnox company is connected to, if any."""
        item = self._table.get(fortnox_claim_key(tenant_id))
        return str(item["portal_id"]) if item else None

    # --- both -------------------------------------------------------------------------------------

    def mark_broken(self, portal_id: str, system: System, reason: str) -> bool:
        """Record that a connection stopped working and why; False if there is none to mark.

        An uninstalled HubSpot connection stays uninstalled.
        """
        try:
            self._table.update(
                connection_key(portal_id, system),
                set_fields={"status": "broken", "broken_reason": reason},
                condition="attribute_exists(pk) AND #status <> :uninstalled",
                names={"#status": "status"},
                values={":uninstalled": "uninstalled"},
            )
        except ConditionFailed:
            return False
        return True

    # --- items ------------------------------------------------------------------------------------

    def _write(
        self,
        key: dict[str, str],
        system: System,
        connection: HubSpotConnection | FortnoxConnection,
        *,
        condition: str | None = None,
        values: dict[str, Any] | None = None,
    ) -> Item:
        return self._table.update(
            key, **self._fields(connection), add_fields={"version": 1}, condition=condition, values=values
        )

    def _fields(self, connection: HubSpotConnection | FortnoxConnection) -> dict[str, Any]:
        """`set_fields` for writing `connection` whole, its tokens sealed."""
        system: System = "hubspot" if isinstance(connection, HubSpotConnection) else "fortnox"
        fields = connection.model_dump(exclude={*_SECRET_FIELDS, "version"})
        fields["tokens"] = self._seal(
            system,
            connection.portal_id,
            connection.access_token.get_secret_value(),
            connection.refresh_token.get_secret_value(),
        )
        return {"set_fields": fields}

    def _update_tokens(
        self,
        system: System,
        portal_id: str,
        access_token: str,
        refresh_token: str,
        access_expires_at: float,
        expected_version: int,
    ) -> Item:
        try:
            return self._table.update(
                connection_key(portal_id, system),
                set_fields={
                    "tokens": self._seal(system, portal_id, access_token, refresh_token),
                    "access_expires_at": access_expires_at,
                    "status": "active",
                    "broken_reason": None,
                },
                add_fields={"version": 1},
                condition="#version = :expected",
                names={"#version": "version"},
                values={":expected": expected_version},
            )
        except ConditionFailed as failure:
            actual = failure.item.get("version") if failure.item else None
            raise StaleVersion(
                f"the {system} connection of portal {portal_id}",
                expected=expected_version,
                actual=actual,
                item=failure.item,
            ) from failure

    def _seal(self, system: System, portal_id: str, access_token: str, refresh_token: str) -> str:
        # Both tokens in one ciphertext: one KMS call per read, and the system inside the
        # plaintext so a ciphertext moved between a portal's two connections is refused.
        plaintext = json.dumps(
            {"system": system, "access_token": access_token, "refresh_token": refresh_token}
        )
        return self._cipher.encrypt(plaintext, portal_id)

    def _open(self, system: System, item: Item) -> dict[str, SecretStr]:
        if not item.get("tokens"):
            return {}
        portal_id = item["portal_id"]
        opened = json.loads(self._cipher.decrypt(item["tokens"], portal_id))
        if opened.get("system") != system:
            raise TokenCipherError(f"the stored {system} tokens of portal {portal_id} belong elsewhere")
        return {name: SecretStr(opened[name]) for name in _SECRET_FIELDS}

    def _hubspot(self, item: Item, tokens: dict[str, SecretStr] | None = None) -> HubSpotConnection:
        """The model of a stored item; `tokens` when the caller knows them saves a KMS call."""
        opened = self._open("hubspot", item) if tokens is None else tokens
        return HubSpotConnection.model_validate({**_public(item), **opened})

    def _fortnox(self, item: Item, tokens: dict[str, SecretStr] | None = None) -> FortnoxConnection:
        opened = self._open("fortnox", item) if tokens is None else tokens
        return FortnoxConnection.model_validate({**_public(item), **opened})


def _public(item: Item) -> Item:
    return {k: v for k, v in item.items() if k not in ("pk", "sk", "tokens")}


def _tokens(access_token: str, refresh_token: str) -> dict[str, SecretStr]:
    return {"access_token": SecretStr(access_token), "refresh_token": SecretStr(refresh_token)}


def _tokens_of(connection: HubSpotConnection | FortnoxConnection) -> dict[str, SecretStr]:
    return {"access_token": connection.access_token, "refresh_token": connection.refresh_token}

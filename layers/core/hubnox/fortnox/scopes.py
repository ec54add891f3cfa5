"""Which Fortnox scopes a connection was granted, where a feature depends on one asked for later.

hubnox asks for `payment` from the status sync on (to read invoice payments). A connection made
before then was granted the scopes asked for at the time, kept on the connection
(`FortnoxConnection.scopes`), and Fortnox adds a scope only through a new consent: the admin has
to reconnect. Until then the status sync reads no payments (it falls back to the invoices' final
pay dates) and the settings page and the card say so.
"""

from __future__ import annotations

from collections.abc import Iterable

PAYMENT_SCOPE = "payment"
RECONNECT_FOR_PAYMENTS = "Reconnect Fortnox to see payments."


def lacks_payment_scope(granted: Iterable[str]) -> bool:
    """Whether a connection's granted scopes leave out `payment`.

    An empty list means Fortnox did not say what it granted; that is not taken for a missing
    scope, so a connection is never told to reconnect on a guess.
    """
    scopes = {scope.strip().lower() for scope in granted if scope.strip()}
    return bool(scopes) and PAYMENT_SCOPE not in scopes

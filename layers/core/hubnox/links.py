"""The links hubnox hands out in notes and cards, each signed and expiring.

A Replay link names a run of a portal: `/replay/<runId>?t=<token>`, the token signed over the run
and the portal with the `replay` purpose. Opening it shows a confirmation page and changes nothing
(mail scanners and link previews open links); only the page's POST re-enqueues the run.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from hubnox.errors import UnauthorizedError
from hubnox.signing import Signer

REPLAY_TTL_SECONDS = 30 * 24 * 3600


def replay_url(signer: Signer, public_base: str, portal_id: str, run_id: str,
               ttl_seconds: int = REPLAY_TTL_SECONDS) -> str:
    """A signed link to replay `run_id` of `portal_id`, valid for `ttl_seconds` (30 days by default)."""
    token = signer.sign("replay", {"portal": portal_id, "run": run_id}, ttl_seconds)
    return f"{public_base.rstrip('/')}/replay/{quote(run_id, safe='')}?{urlencode({'t': token})}"


def verify_replay(signer: Signer, token: str, run_id: str) -> str:
    """The portal id a genuine, unexpired Replay token grants for `run_id`; UnauthorizedError otherwise."""
    claims = signer.verify("replay", token)
    if claims.get("run") != run_id:
        raise UnauthorizedError("This Replay link belongs to another run.", code="BAD_SIGNATURE")
    return str(claims["portal"])

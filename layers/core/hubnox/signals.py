"""The operator's signals: CloudWatch metrics counting what happened to runs and to API calls.

Each signal is one metric datum published on its own (Powertools `single_metric`), so its dimensions
never leak onto another metric flushed with it, and it is published at once, by any function,
whether or not its handler flushes `hubnox.observability.metrics`.

CloudWatch bills each metric name and dimension combination as a custom metric, so every dimension
value comes from a closed set: the run kinds, the two APIs, and hubnox's own error codes
(`ERROR_CODES`). A code from outside that set (a Fortnox or HubSpot code carried in a hubnox code, a
code added without registering it here) is counted under its system (`FORTNOX`, `HUBSPOT`) or under
`OTHER`, never under itself. The dashboard and alarms in template.yaml read these metrics by name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import get_args

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from hubnox.fortnox.errors import EXPLANATIONS
from hubnox.observability import NAMESPACE, SERVICE
from hubnox.records import Run, RunKind

#: the dimension value for anything outside its closed set
OTHER = "OTHER"
#: the run kinds, the values of the `Kind` dimension (besides OTHER)
KINDS: frozenset[str] = frozenset(get_args(RunKind))
#: the APIs whose 429s are counted, the values of the `System` dimension (besides OTHER)
SYSTEMS: frozenset[str] = frozenset({"Fortnox", "HubSpot"})

#: hubnox's own error codes (`HubnoxError.code`), each its own value of the `ErrorCode` dimension;
#: tests/unit/test_signals.py checks that every code written in the layer is here
ERROR_CODES: frozenset[str] = frozenset({
    "ADJUSTMENT_ROW", "ALREADY_EXISTS", "AMBIGUOUS_CUSTOMER", "ARTICLE_MISSING", "ARTICLE_NUMBER_INVALID",
    "ARTICLE_NUMBER_MISSING", "BAD_CALLBACK", "BAD_CSRF", "BAD_DOCUMENT_TYPE", "BAD_JOB", "BAD_OBJECT_TYPE",
    "BAD_ORIGIN", "BAD_REQUEST", "BAD_SIGNATURE", "BAD_STATE", "COMPANY_MISSING", "CONDITION_FAILED",
    "CONFIRM", "CONTACT_SYNC_OFF", "CURRENCY_NOT_IN_FORTNOX", "CUSTOMER_BUSY", "DEAL_AMOUNT_ROW", "DEAL_BUSY",
    "DISCOUNT_IN_PRICE", "DISCOUNT_ROW", "EARLIER_DOCUMENT_CANCELLED", "ENQUEUE_FAILED", "ERROR", "EXHAUSTED",
    "EXPIRED", "FORTNOX", "FORTNOX_ALREADY_CONNECTED", "FORTNOX_BAD_CODE", "FORTNOX_CLIENT",
    "FORTNOX_COMPANY_ALREADY_CONNECTED", "FORTNOX_FIELD_TOO_LONG", "FORTNOX_NOT_CONNECTED", "FORTNOX_OAUTH",
    "FORTNOX_SERVICE_ACCOUNT", "HUBSPOT", "HUBSPOT_BAD_CODE", "HUBSPOT_BAD_REQUEST", "HUBSPOT_CLIENT",
    "HUBSPOT_CONFLICT", "HUBSPOT_NOT_FOUND", "HUBSPOT_OAUTH", "HUBSPOT_UNINSTALLED", "INCOMPLETE_LINK", "INTERNAL",
    "INVALID",
    "INVALID_CUSTOMER_NUMBER", "INVALID_DOCUMENT_NUMBER", "INVALID_EMAIL", "INVALID_FIELD", "INVALID_ID",
    "INVALID_IMPORT", "INVALID_PROPERTY", "INVALID_SETTINGS", "LEASE_BUSY", "LINE_ITEMS_MISSING",
    "LINKED_CUSTOMER_GONE",
    "LINK_USED", "MALFORMED_BODY", "MALFORMED_JSON", "MALFORMED_TOKEN", "MATCHED_BY_NAME", "MISSING_COMPANY",
    "MISSING_CUSTOMER_NAME", "MISSING_CUSTOMER_NUMBER", "MISSING_FIELD", "MISSING_MATCH_VALUE",
    "MISSING_OBJECT", "MISSING_PORTAL", "MIXED_CURRENCIES", "NAME_FROM_EMAIL", "NOT_A_CUSTOMER", "NOT_A_DEAL",
    "NOT_FOUND", "NOT_INSTALLED", "NOT_AN_EXPORT", "NOT_QUEUED", "NOT_SUPER_ADMIN", "NO_ARTICLE_ROW", "NO_LINE_ITEMS",
    "NO_MATCH_VALUE", "NO_PDF", "NO_PORTAL", "NO_ROUTE", "NO_SESSION", "NO_TENANT", "OWNER_MISSING",
    "OWNER_NOT_GRANTED", "PLACEHOLDER_ARTICLE", "PORTAL_GONE", "PORTAL_NOT_INSTALLED", "PRICE_FROM_AMOUNT",
    "PRICE_ROUNDED", "QUANTITY_MISSING", "QUANTITY_ROUNDED", "RATE_BUDGET", "RATE_LIMITED", "RECONNECT",
    "RUN_NOT_FOUND", "SESSION_ENDED", "SETTINGS_TOO_NEW", "SEVERAL_DOCUMENTS", "SIGNATURE_BODY",
    "SIGNATURE_CONFIG", "SIGNATURE_FUTURE", "SIGNATURE_MISMATCH", "SIGNATURE_MISSING", "SIGNATURE_STALE",
    "SIGNATURE_TIMESTAMP", "SIGNATURE_VERSION", "STALE_VERSION", "TAX_RATES_NOT_GRANTED",
    "TEXT_CHARACTERS_REMOVED", "TEXT_CUT", "TIMEOUT", "TOKEN_CIPHER", "TOKEN_RACE", "TRANSACTION_CANCELLED",
    "TRANSIENT", "UNAUTHORIZED", "UNKNOWN_ACTION", "UNKNOWN_COUNTRY", "UNKNOWN_INPUT_FIELD",
    "UNKNOWN_TAX_RATE", "UNREACHABLE", "UNREADABLE", "UNSUPPORTED_VAT_RATE", "UPSTREAM_UNAVAILABLE",
    "USER_FIXABLE", "WRONG_OBJECT_TYPE", "WRONG_USER", "ZERO_VAT_CUSTOMER",
    # the sync log and its actions (bulk replay, dead letters): answers, never a run's error
    "COUNT_CHANGED", "DEAD_LETTER_NOT_FOUND", "INVALID_CURSOR", "INVALID_FILTER", "MALFORMED_DEAD_LETTER",
    "REPLAY_CLAIM_LOST",
    # the webhooks function's answers to a batch it cannot read, never a run's error
    "MALFORMED_EVENT", "TOO_MANY_EVENTS",
})
#: the Fortnox error codes hubnox explains (`FORTNOX_<code>`), worth a value of their own
FORTNOX_CODES: frozenset[str] = frozenset(f"FORTNOX_{code}" for code in EXPLANATIONS)
_FROM_SYSTEM = re.compile(r"(FORTNOX|HUBSPOT)_")


def error_code_dimension(code: str | None) -> str:
    """The `ErrorCode` value a run's error code is counted under: the code itself when it is one of
    hubnox's own, else its system (a Fortnox or HubSpot code hubnox does not list), else `OTHER`."""
    if code is None:
        return OTHER
    if code in ERROR_CODES or code in FORTNOX_CODES:
        return code
    if (system := _FROM_SYSTEM.match(code)) is not None:
        return system.group(1)
    return OTHER


def emit_count(name: str, dimensions: Mapping[str, str] | None = None) -> None:
    """Publish a count of 1 for the metric `name` in the hubnox namespace, with the service
    dimension and `dimensions` (values from a closed set), as a datum of its own."""
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=NAMESPACE,
                       default_dimensions={"service": SERVICE}) as metric:
        for key, value in (dimensions or {}).items():
            metric.add_dimension(name=key, value=value)


def count_run(run: Run) -> None:
    """Count `run`, whose outcome has just become final: succeeded or failed per kind, and failed
    per error code; a run that is not over is not counted."""
    kind = run.kind if run.kind in KINDS else OTHER
    if run.status == "succeeded":
        emit_count("RunsSucceeded", {"Kind": kind})
    elif run.status == "failed":
        emit_count("RunsFailed", {"Kind": kind})
        emit_count("RunsFailedByCode", {"ErrorCode": error_code_dimension(run.error_code)})


class RunSignals:
    """Counts each run the worker carries out once, when its outcome is final
    (`hubnox.sync.ports.RunOutcomes`). A failed document run that Fortnox shows made its document
    after all counts as the success it was."""

    def finished(self, run: Run) -> None:
        """Count `run`, whose outcome has just become final."""
        count_run(run)


def count_replay() -> None:
    """Count a run replayed (from its Replay link, a bulk replay or a dead letter's retry)."""
    emit_count("RunsReplayed")


def count_rate_limited(system: str) -> None:
    """Count a 429 from `system` (Fortnox or HubSpot), whether or not the call was retried."""
    emit_count("RateLimited", {"System": system if system in SYSTEMS else OTHER})

"""Connection health: which of hubnox's features the connected Fortnox company lets it use.

Fortnox says which scopes it granted in the token answer's `scope`; it has no endpoint that lists
a company's licences. A licence is therefore found by a cheap read that needs it (one list item):
Fortnox answers 2001101 ("no active licence for the desired scope") when the company lacks it,
2000663 when the token lacks the scope, and 2001103 when the company has no API licence at all.
`check_health` does both and answers a `ConnectionHealth`, a plain value the settings page, the
app card and the workflow options all show the same way.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from hubnox.errors import ConnectionBrokenError, HubnoxError
from hubnox.fortnox.errors import FortnoxError

#: Fortnox's codes for a company without the licence a scope needs, and without the API licence
NO_LICENCE_CODES = frozenset({2001101})
NO_API_LICENCE_CODES = frozenset({2001103})
#: Fortnox's code for a token without the scope a resource needs
NO_SCOPE_CODES = frozenset({2000663})

FeatureState = Literal["ok", "no_scope", "no_licence", "unknown"]


@dataclass(frozen=True)
class Feature:
    """A part of Fortnox hubnox uses: the scope it needs and, when a licence matters, the cheap
    read that tells whether the company has one (`probe`, a list path, and its query)."""

    key: str
    label: str
    scope: str
    needed_for: str
    licence: str | None = None
    probe: str | None = None
    probe_params: Mapping[str, str] = field(default_factory=dict)


#: what hubnox checks, in the order the page lists it; licences per scope as Fortnox's scope guide
#: lists them (customer, article, invoice, print: Kundfaktura or Order; order: Order)
FEATURES: tuple[Feature, ...] = (
    Feature("invoice", "Invoices", "invoice", "draft invoices and their PDFs",
            "Kundfaktura (invoicing) or Order", "/3/invoices"),
    Feature("order", "Orders", "order", "draft orders and their PDFs", "Order", "/3/orders"),
    Feature("customer", "Customers", "customer", "matching and creating customers (every document needs one)",
            "Kundfaktura (invoicing) or Order", "/3/customers"),
    Feature("article", "Articles", "article", "finding and creating articles, and Sync products",
            "Kundfaktura (invoicing) or Order", "/3/articles"),
    Feature("print", "Print templates", "print", "choosing print templates",
            "Kundfaktura (invoicing) or Order", "/3/printtemplates", {"type": "invoice"}),
    Feature("price", "Prices", "price", "article prices and price lists"),
    Feature("currency", "Currencies", "currency", "documents in other currencies than SEK"),
    Feature("settings", "Terms of payment and ways of delivery", "settings",
            "checking terms of payment and ways of delivery"),
)
FEATURE_KEYS = tuple(feature.key for feature in FEATURES)


@dataclass(frozen=True)
class FeatureHealth:
    """Whether one feature works, and if not, why and what to do."""

    key: str
    label: str
    state: FeatureState
    message: str = ""
    fix: str = ""

    @property
    def works(self) -> bool:
        return self.state == "ok"


@dataclass(frozen=True)
class ConnectionHealth:
    """Every feature's health for one connection (`tenant_id`, `connected_at`), checked at `checked_at`."""

    tenant_id: str
    connected_at: float
    checked_at: float
    features: tuple[FeatureHealth, ...]

    def feature(self, key: str) -> FeatureHealth | None:
        return next((item for item in self.features if item.key == key), None)

    def works(self, key: str) -> bool:
        """Whether the feature is not known to fail (one that could not be checked counts as working)."""
        item = self.feature(key)
        return item is None or item.state in ("ok", "unknown")

    @property
    def problems(self) -> tuple[FeatureHealth, ...]:
        """The features that will not work (known), in the order of `FEATURES`."""
        return tuple(item for item in self.features if item.state in ("no_scope", "no_licence"))

    @property
    def unchecked(self) -> tuple[FeatureHealth, ...]:
        return tuple(item for item in self.features if item.state == "unknown")

    def warnings(self) -> list[str]:
        """One sentence per feature that will not work: what fails and what to do."""
        return [f"{item.message} {item.fix}".strip() for item in self.problems]

    def to_item(self) -> dict[str, Any]:
        return {"tenant_id": self.tenant_id, "connected_at": self.connected_at, "checked_at": self.checked_at,
                "features": [{"key": f.key, "label": f.label, "state": f.state, "message": f.message,
                              "fix": f.fix} for f in self.features]}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> ConnectionHealth:
        return cls(tenant_id=str(item["tenant_id"]), connected_at=float(item["connected_at"]),
                   checked_at=float(item["checked_at"]),
                   features=tuple(FeatureHealth(key=str(f["key"]), label=str(f["label"]), state=f["state"],
                                                message=str(f.get("message") or ""), fix=str(f.get("fix") or ""))
                                  for f in item.get("features") or []))

    def to_json(self) -> dict[str, Any]:
        """What the card, the options and the page's API show."""
        return {"working": not self.problems, "checkedAt": self.checked_at,
                "warnings": self.warnings(),
                "features": [{"key": f.key, "label": f.label, "state": f.state, "message": f.message,
                              "fix": f.fix} for f in self.features]}


class LicenceProbe(Protocol):
    """What the check reads from Fortnox (`FortnoxClient.probe`)."""

    def probe(self, path: str, params: Mapping[str, str] | None = None) -> None: ...


def _no_scope(feature: Feature) -> FeatureHealth:
    return FeatureHealth(
        feature.key, feature.label, "no_scope",
        f"{feature.label} will not work: Fortnox did not grant hubnox the {feature.scope!r} permission, "
        f"which {feature.needed_for} need.",
        "Disconnect and connect Fortnox again as a Fortnox administrator, approving every permission hubnox "
        "asks for (and check the integration's scopes in Fortnox's Developer Portal).")


def _no_licence(feature: Feature, api: bool = False) -> FeatureHealth:
    if api:
        return FeatureHealth(feature.key, feature.label, "no_licence",
                             f"{feature.label} will not work: the Fortnox company has no integration (API) "
                             "licence.", "Activate the integration licence in Fortnox, then reload this page.")
    return FeatureHealth(
        feature.key, feature.label, "no_licence",
        f"{feature.label} will not work: the Fortnox company has no licence for {feature.needed_for} "
        f"({feature.licence}).",
        f"Add the {feature.licence} licence in Fortnox (Settings > Licences), then reload this page.")


def check_health(fortnox: LicenceProbe, granted_scopes: Collection[str], *, tenant_id: str,
                 connected_at: float, now: float) -> ConnectionHealth:
    """Each feature's health: its scope against `granted_scopes` (empty: Fortnox did not say, so each
    probe finds out), then its licence by its probe. A probe that fails for another reason (busy,
    refused) leaves the feature `unknown`; a broken connection raises `ConnectionBrokenError`."""
    granted = set(granted_scopes)
    results: list[FeatureHealth] = []
    for feature in FEATURES:
        if granted and feature.scope not in granted:
            results.append(_no_scope(feature))
            continue
        if feature.probe is None:
            results.append(FeatureHealth(feature.key, feature.label, "ok"))
            continue
        try:
            fortnox.probe(feature.probe, feature.probe_params)
        except ConnectionBrokenError:
            raise
        except FortnoxError as refused:
            if refused.fortnox_code in NO_LICENCE_CODES:
                results.append(_no_licence(feature))
            elif refused.fortnox_code in NO_API_LICENCE_CODES:
                results.append(_no_licence(feature, api=True))
            elif refused.fortnox_code in NO_SCOPE_CODES:
                results.append(_no_scope(feature))
            else:
                results.append(_unknown(feature, refused))
        except HubnoxError as failure:
            results.append(_unknown(feature, failure))
        else:
            results.append(FeatureHealth(feature.key, feature.label, "ok"))
    return ConnectionHealth(tenant_id, connected_at, now, tuple(results))


def _unknown(feature: Feature, failure: HubnoxError) -> FeatureHealth:
    return FeatureHealth(feature.key, feature.label, "unknown",
                         f"hubnox could not check {feature.label.lower()}: {failure.message}",
                         "Reload this page in a minute.")

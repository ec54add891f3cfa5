"""Settings checked against the connected Fortnox company before they are saved.

Every setting that names something in Fortnox (terms of payment, currency, price lists, print
templates, the placeholder article) must name something the company has: `fortnox_field_errors`
reads Fortnox's lists (each at most once) and answers one `{"field", "message"}` per value Fortnox
does not have, in the shape the settings API's 400 carries.

Decisions where Fortnox is silent or cannot be asked:
- A list hubnox may not read (a missing scope or licence, which the connection health shows) leaves
  its settings unchecked rather than blocking every save.
- The placeholder article is checked only when a setting uses it (the `placeholder` article policy or
  the `placeholder_row` no-line-items policy): the default number need not exist otherwise.
- VAT types are Fortnox's fixed list (SEVAT, SEREVERSEDVAT, EUREVERSEDVAT, EUVAT, EXPORT), checked by
  the settings model itself; Fortnox has no endpoint listing them.
- Currency codes compare without regard to case (Fortnox's own look-up ignores it); every other
  code must match exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol

from hubnox.errors import TransientError
from hubnox.fortnox.errors import FortnoxError
from hubnox.fortnox.models import Article, Currency, PriceList, PrintTemplate, TermsOfPayment
from hubnox.observability import logger
from hubnox.sync.portal_settings import ArticlePolicy, PortalSettings


class FortnoxLookups(Protocol):
    """The Fortnox reads the check needs (`FortnoxClient`)."""

    def terms_of_payment(self) -> list[TermsOfPayment]: ...

    def currencies(self) -> list[Currency]: ...

    def price_lists(self) -> list[PriceList]: ...

    def print_templates(self, document_type: str = "invoice") -> list[PrintTemplate]: ...

    def get_article(self, article_number: str) -> Article | None: ...


@dataclass(frozen=True)
class FortnoxReference:
    """A setting that names a code in one of Fortnox's registers."""

    field: str
    value: Callable[[PortalSettings], str | None]
    register: str
    what: str
    where: str


REFERENCES: tuple[FortnoxReference, ...] = (
    FortnoxReference("customer_defaults.terms_of_payment", lambda s: s.customer_defaults.terms_of_payment,
                     "terms", "terms of payment", "Settings > Invoicing > Terms of payment"),
    FortnoxReference("customer_defaults.currency", lambda s: s.customer_defaults.currency,
                     "currencies", "currency", "Settings > Invoicing > Currencies"),
    FortnoxReference("customer_defaults.price_list", lambda s: s.customer_defaults.price_list,
                     "price_lists", "price list", "Settings > Invoicing > Price lists"),
    FortnoxReference("articles.defaults.price_list", lambda s: s.articles.defaults.price_list,
                     "price_lists", "price list", "Settings > Invoicing > Price lists"),
    FortnoxReference("customer_defaults.invoice_print_template",
                     lambda s: s.customer_defaults.invoice_print_template,
                     "invoice_templates", "invoice print template", "Settings > Print templates"),
    FortnoxReference("customer_defaults.order_print_template", lambda s: s.customer_defaults.order_print_template,
                     "order_templates", "order print template", "Settings > Print templates"),
)

PLACEHOLDER_FIELD = "articles.placeholder_article_number"


def _registers(fortnox: FortnoxLookups) -> dict[str, Callable[[], Collection[str]]]:
    return {
        "terms": lambda: {t.code for t in fortnox.terms_of_payment()},
        "currencies": lambda: {c.code.upper() for c in fortnox.currencies()},
        "price_lists": lambda: {p.code for p in fortnox.price_lists()},
        "invoice_templates": lambda: {t.template for t in fortnox.print_templates("invoice")},
        "order_templates": lambda: {t.template for t in fortnox.print_templates("order")},
    }


def uses_placeholder(settings: PortalSettings) -> bool:
    """Whether any setting bills lines on the placeholder article."""
    return settings.articles.policy is ArticlePolicy.PLACEHOLDER or settings.no_line_items == "placeholder_row"


def fortnox_field_errors(settings: PortalSettings, fortnox: FortnoxLookups) -> list[dict[str, str]]:
    """One `{"field", "message"}` per setting naming something the Fortnox company does not have.

    Raises `TransientError` when Fortnox cannot answer now (the caller answers 503: try again).
    """
    registers = _registers(fortnox)
    read: dict[str, Collection[str] | None] = {}

    def known(register: str) -> Collection[str] | None:
        if register not in read:
            try:
                read[register] = registers[register]()
            except TransientError:
                raise
            except FortnoxError as refused:
                logger.warning("settings not checked against Fortnox",
                               extra={"register": register, "code": refused.code})
                read[register] = None
        return read[register]

    errors: list[dict[str, str]] = []
    for reference in REFERENCES:
        value = reference.value(settings)
        if value is None:
            continue
        codes = known(reference.register)
        wanted = value.upper() if reference.register == "currencies" else value
        if codes is not None and wanted not in codes:
            listed = ", ".join(sorted(codes)[:12]) or "none"
            errors.append({"field": reference.field, "message": (
                f"Fortnox has no {reference.what} {value!r} (it has: {listed}). Pick one of those, or add it in "
                f"Fortnox under {reference.where}.")})
    if uses_placeholder(settings):
        number = settings.articles.placeholder_article_number
        try:
            article = fortnox.get_article(number)
        except FortnoxError as refused:
            logger.warning("placeholder article not checked", extra={"code": refused.code})
        else:
            if article is None:
                errors.append({"field": PLACEHOLDER_FIELD, "message": (
                    f"Fortnox has no article {number!r}, which the placeholder settings bill lines on. Create it "
                    "in Fortnox (Register > Articles), or name an article it has.")})
    return errors

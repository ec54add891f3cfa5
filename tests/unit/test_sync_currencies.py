"""A deal's currency must be in the Fortnox company's currency register before anything is made."""

from __future__ import annotations

import pytest

from hubnox.errors import UserFixableError
from hubnox.fortnox.models import Currency
from hubnox.sync.documents import check_currency


class Register:
    def __init__(self, *codes: str) -> None:
        self.codes = codes
        self.asked = 0

    def currencies(self) -> list[Currency]:
        self.asked += 1
        return [Currency(code=code) for code in self.codes]


def test_sek_is_the_companys_own_currency_and_is_never_looked_up() -> None:
    register = Register()
    check_currency("sek", register)
    assert register.asked == 0


def test_a_currency_in_the_register_passes() -> None:
    check_currency("EUR", Register("SEK", "EUR"))


def test_a_currency_missing_from_the_register_is_the_users_to_add_in_fortnox() -> None:
    with pytest.raises(UserFixableError) as failure:
        check_currency("GBP", Register("SEK", "EUR", "USD"))
    assert failure.value.code == "CURRENCY_NOT_IN_FORTNOX"
    assert "GBP" in failure.value.message and "EUR, SEK, USD" in failure.value.message
    assert "Inställningar" in (failure.value.hint or "") and "Valuta" in (failure.value.hint or "")

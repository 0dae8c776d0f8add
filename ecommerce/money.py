"""The one money format: every amount a person reads (admin, reports, storefront) goes through here.

`format_money(Decimal("3.000000"), "GBP")` -> "£3.00": the currency's symbol (or its code after the
number when it has no common symbol), thousands separators, and the currency's minor units, rounded
half up. CSV exports use `money_plain` instead: a plain decimal with the minor units and no symbol,
next to a `currency` column, so a spreadsheet can sum it.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings

SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}
# Currencies without minor units (ISO 4217 exponent 0); every other one has two.
ZERO_DECIMAL = {"JPY", "KRW", "ISK", "CLP", "VND"}
MISSING = "—"


def _to_decimal(amount: object) -> Decimal | None:
    if amount is None or amount == "":
        return None
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return value if value.is_finite() else None


def _currency(currency: str | None) -> str:
    return (currency or getattr(settings, "SHOP_CURRENCY", "GBP") or "GBP").strip().upper()


def _quantum(currency: str) -> Decimal:
    return Decimal("1") if currency in ZERO_DECIMAL else Decimal("0.01")


def money_plain(amount: object, currency: str | None = None) -> str:
    """A plain decimal in the currency's minor units ("3.00"); '' for a missing amount (CSV)."""
    value = _to_decimal(amount)
    if value is None:
        return ""
    code = _currency(currency)
    return str(value.quantize(_quantum(code), rounding=ROUND_HALF_UP))


def format_money(amount: object, currency: str | None = None) -> str:
    """ "£1,234.50", "-€3.00", "1,200 JPY"; the shop's currency when none is given; "—" when missing."""
    value = _to_decimal(amount)
    if value is None:
        return MISSING
    code = _currency(currency)
    value = value.quantize(_quantum(code), rounding=ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    number = f"{abs(value):,}"
    symbol = SYMBOLS.get(code)
    if symbol:
        return f"{sign}{symbol}{number}"
    return f"{sign}{number} {code}"

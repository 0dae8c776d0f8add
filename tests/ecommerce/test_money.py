"""The one money format (ecommerce/money.py) and its template filter."""

from decimal import Decimal

import pytest
from django.template import Context, Template

from ecommerce.money import format_money, money_plain


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("3.000000"), "GBP", "£3.00"),
        (Decimal("1234.5"), "EUR", "€1,234.50"),
        (Decimal("-12.345"), "USD", "-$12.35"),  # half up, sign before the symbol
        (Decimal("0.004999"), "GBP", "£0.00"),
        ("19.9", "CHF", "19.90 CHF"),  # no common symbol: the code after the number
        (1200, "JPY", "1,200 JPY"),  # no minor units
        (None, "GBP", "—"),
        ("not a number", "GBP", "—"),
    ],
)
def test_format_money(amount, currency, expected):
    assert format_money(amount, currency) == expected


def test_format_money_defaults_to_the_shop_currency(settings):
    settings.SHOP_CURRENCY = "EUR"
    assert format_money(Decimal("2.5")) == "€2.50"
    assert format_money(Decimal("2.5"), "") == "€2.50"


def test_money_plain_is_a_bare_decimal_for_csv():
    assert money_plain(Decimal("3.000000"), "GBP") == "3.00"
    assert money_plain(Decimal("0.125"), "GBP") == "0.13"
    assert money_plain(None) == ""


def test_money_template_filter():
    html = Template("{% load money %}{{ a|money:'GBP' }} {{ b|money }}").render(
        Context({"a": Decimal("1500"), "b": Decimal("0.5")})
    )
    assert html == "£1,500.00 £0.50"

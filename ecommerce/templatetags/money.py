"""`{% load money %}` then `{{ order.total|money:order.currency }}` (no argument: the shop's currency)."""

from __future__ import annotations

from django import template

from ..money import format_money

register = template.Library()


@register.filter(name="money")
def money_filter(amount: object, currency: str | None = None) -> str:
    return format_money(amount, currency)

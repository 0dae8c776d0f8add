"""KPI tiles: revenue, orders, customers, visitors, with the change on the previous period."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, DateField, Sum
from django.db.models.functions import Trunc

from ..expressions import ACTIVE, ORDERS, actor_expr, buyer_expr
from ..models import DailyMetric
from .common import Filters, _daily_active_sum, _events, _num, _orders, distinct_actors, gmv


def _kpi_values(f: Filters, *, force_raw: bool = False) -> dict[str, Any]:
    if f.needs_raw or force_raw:
        orders = _orders(f).aggregate(n=Count("id", distinct=True), buyers=Count(buyer_expr(), distinct=True))
        revenue = gmv(f)
        order_count, buyers = orders["n"], orders["buyers"]
    else:
        rows = DailyMetric.objects.filter(day__gte=f.start, day__lte=f.end, metric=ORDERS)
        if f.country:
            rows = rows.filter(country=f.country)
        agg = rows.aggregate(n=Sum("count"), amount=Sum("amount"))
        order_count, revenue = agg["n"] or 0, agg["amount"] or Decimal("0")
        buyers = distinct_actors(f, ORDERS)
    if f.category_id is not None:
        # Visitors of a category: who viewed or bought in it (raw events of that category).
        visitors = _events(f).aggregate(n=Count(actor_expr(), distinct=True))["n"] + 0
        visitors = max(visitors, buyers)
        daily = list(
            _events(f)
            .annotate(d=Trunc("occurred_at", "day", output_field=DateField()))
            .values("d")
            .annotate(n=Count(actor_expr(), distinct=True))
            .values_list("n", flat=True)
        )
        wau = mau = None
    else:
        visitors = distinct_actors(f, ACTIVE)
        daily = [_daily_active_sum(f)]
        wau = distinct_actors(Filters(f.end - timedelta(days=6), f.end, f.segment, f.country), ACTIVE)
        mau = distinct_actors(Filters(f.end - timedelta(days=29), f.end, f.segment, f.country), ACTIVE)
    dau = round(sum(daily) / f.days, 2)
    return {
        "visitors": visitors,
        "dau": dau,
        "wau": wau,
        "mau": mau,
        "orders": order_count,
        "customers": buyers,
        "gmv": revenue,
        "aov": (revenue / order_count).quantize(Decimal("0.01")) if order_count else None,
        "conversion_rate": round(buyers / visitors, 4) if visitors else None,
    }


KPI_LABELS = {
    "visitors": "Visitors",
    "dau": "Daily active (avg)",
    "wau": "Weekly active (last 7 days)",
    "mau": "Monthly active (last 30 days)",
    "orders": "Orders",
    "customers": "Buying customers",
    "gmv": "GMV",
    "aov": "Average order value",
    "conversion_rate": "Conversion rate",
}
# Shown on the dashboard: a figure a merchant cannot compare with another tool's is no use.
KPI_DEFINITIONS = {
    "visitors": "Distinct people (signed-in customers and anonymous browsers) with any event or order in the range.",
    "dau": "People active on a day, averaged over the days of the range.",
    "wau": "Distinct people active in the 7 days ending on the range's last day.",
    "mau": "Distinct people active in the 30 days ending on the range's last day.",
    "orders": "Orders placed in the range; cancelled orders are left out.",
    "customers": "Distinct people with at least one order (not cancelled) in the range.",
    "gmv": "Gross merchandise value: quantity × unit price over the lines of orders that were not cancelled; "
    "return lines and free items are left out, shipping and fee lines count.",
    "aov": "GMV ÷ orders. Shopify's average order value divides sales after discounts by orders and GA4's "
    "average purchase revenue divides purchase revenue by purchases: with no discounts they agree.",
    "conversion_rate": "Buying customers ÷ visitors: the share of the people seen in the range who ordered "
    "(GA4's user conversion rate). Shopify's online-store rate counts sessions that reached "
    "an order instead, which is lower when people visit several times before buying.",
}


def _change(current: Any, previous: Any) -> float | None:
    if current is None or previous in (None, 0):
        return None
    return round((float(current) - float(previous)) / float(previous), 4)


def kpis(f: Filters, *, force_raw: bool = False) -> dict[str, Any]:
    """KPIs of the range and of the previous period of equal length, with the relative change.
    force_raw computes orders/GMV/buyers from the order tables (tests compare both paths)."""
    current, prev_f = _kpi_values(f, force_raw=force_raw), f.previous()
    previous = _kpi_values(prev_f, force_raw=force_raw)
    return {
        "start": f.start.isoformat(),
        "end": f.end.isoformat(),
        "previous_start": prev_f.start.isoformat(),
        "previous_end": prev_f.end.isoformat(),
        "kpis": [
            {
                "key": key,
                "label": label,
                "definition": KPI_DEFINITIONS[key],
                "value": _num(current[key]),
                "previous": _num(previous[key]),
                "change": _change(current[key], previous[key]),
            }
            for key, label in KPI_LABELS.items()
        ],
    }

"""Recency / frequency / monetary scores and the segments they name."""

from __future__ import annotations

import statistics
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Max, Q, Sum, Window
from django.db.models.functions import Ntile
from django.utils import timezone

from ecommerce.models import Order

from ..expressions import day_start
from ..models import PanelSnapshot

RFM_SEGMENTS = [
    # (key, name, description, predicate on (r, f)) — the classic R×F segment map.
    ("champions", "Champions", "Bought recently, buy often and spend the most.", lambda r, f: r == 5 and f >= 4),
    ("loyal", "Loyal", "Buy regularly; responsive to promotions.", lambda r, f: r in (3, 4) and f >= 4),
    (
        "potential-loyalist",
        "Potential loyalist",
        "Recent customers with average frequency.",
        lambda r, f: r >= 4 and f in (2, 3),
    ),
    (
        "new-customers",
        "New customers",
        "Bought most recently, but only once or rarely.",
        lambda r, f: r == 5 and f == 1,
    ),
    ("promising", "Promising", "Recent shoppers who have not bought much yet.", lambda r, f: r == 4 and f == 1),
    (
        "need-attention",
        "Need attention",
        "Above-average recency and frequency, slipping.",
        lambda r, f: r == 3 and f == 3,
    ),
    ("about-to-sleep", "About to sleep", "Below-average recency and frequency.", lambda r, f: r == 3 and f <= 2),
    ("cant-lose-them", "Can't lose them", "Used to buy very often, long ago.", lambda r, f: r <= 2 and f == 5),
    ("at-risk", "At risk", "Bought often, but a long time ago.", lambda r, f: r <= 2 and f in (3, 4)),
    ("hibernating", "Hibernating", "Last bought long ago, rarely.", lambda r, f: r <= 2 and f <= 2),
]


def rfm_segment_for(r: int, f: int) -> tuple[str, str]:
    for key, name, _, predicate in RFM_SEGMENTS:
        if predicate(r, f):
            return key, name
    raise ValueError(f"no RFM segment for r={r} f={f}")  # the map covers all 25 cells


def rfm_scores(*, as_of: date | None = None) -> tuple[date, list[dict[str, Any]]]:
    """Per registered customer: recency (days since the last non-cancelled order before `as_of`),
    frequency (non-cancelled orders), monetary (GMV), each scored 1–5 by quintile with NTILE(5)
    in the database (5 = best: most recent, most frequent, highest spend). Ties are broken by the
    other measures then the user id, so scores are deterministic."""
    if as_of is None:
        as_of = default_as_of()
    cutoff = day_start(as_of)
    positive = Q(items__quantity__gt=0, items__unit_price__gt=0)
    qs = (
        Order.objects.not_cancelled()
        .filter(user__isnull=False, placed_at__lt=cutoff)
        .values("user_id")
        .annotate(
            last=Max("placed_at"),
            frequency=Count("id", distinct=True),
            monetary=Sum(F("items__quantity") * F("items__unit_price"), filter=positive),
        )
        .annotate(
            r_score=Window(Ntile(5), order_by=[F("last").asc(), F("frequency").asc(), F("user_id").asc()]),
            f_score=Window(
                Ntile(5), order_by=[F("frequency").asc(), F("monetary").asc(nulls_first=True), F("user_id").asc()]
            ),
            m_score=Window(
                Ntile(5), order_by=[F("monetary").asc(nulls_first=True), F("frequency").asc(), F("user_id").asc()]
            ),
        )
        .order_by("user_id")
    )
    rows = []
    for row in qs:
        key, name = rfm_segment_for(row["r_score"], row["f_score"])
        rows.append(
            {
                "user_id": row["user_id"],
                "recency_days": (as_of - timezone.localtime(row["last"]).date()).days,
                "frequency": row["frequency"],
                "monetary": row["monetary"] or Decimal("0"),
                "r": row["r_score"],
                "f": row["f_score"],
                "m": row["m_score"],
                "segment": key,
                "segment_name": name,
            }
        )
    return as_of, rows


RFM_SNAPSHOT = "rfm"


def default_as_of() -> date:
    """The day after the last non-cancelled order (today when there is none)."""
    last = Order.objects.not_cancelled().aggregate(d=Max("placed_at"))["d"]
    return (timezone.localtime(last).date() + timedelta(days=1)) if last else timezone.localdate()


def rfm_summary(*, as_of: date | None = None, force_raw: bool = False) -> dict[str, Any]:
    """RFM segments as of a date (default: the day after the last order). The default is read
    from the snapshot the rollup refresh stores (PanelSnapshot "rfm", as fresh as the other
    rollups) when its reference date is still the default; otherwise computed from the orders."""
    if as_of is None and not force_raw:
        as_of = default_as_of()
        snapshot = PanelSnapshot.objects.filter(name=RFM_SNAPSHOT, as_of=as_of).values_list("data", flat=True).first()
        if snapshot is not None:
            return snapshot
    as_of, rows = rfm_scores(as_of=as_of)
    total = len(rows)
    summary = []
    for key, name, description, _ in RFM_SEGMENTS:
        members = [r for r in rows if r["segment"] == key]
        value = sum((r["monetary"] for r in members), Decimal("0"))
        summary.append(
            {
                "key": f"rfm-{key}",
                "name": name,
                "description": description,
                "size": len(members),
                "share": round(len(members) / total, 4) if total else 0.0,
                "monetary": float(value),
                "avg_recency_days": round(statistics.mean(r["recency_days"] for r in members), 1) if members else None,
                "avg_frequency": round(statistics.mean(r["frequency"] for r in members), 2) if members else None,
                "avg_monetary": round(float(value) / len(members), 2) if members else None,
            }
        )
    grid = [[0] * 5 for _ in range(5)]
    for r in rows:
        grid[r["r"] - 1][r["f"] - 1] += 1
    # as_of is exclusive (scores count orders placed before it); people read "as of" as the last
    # day included, so the page shows orders_through.
    return {
        "as_of": as_of.isoformat(),
        "orders_through": (as_of - timedelta(days=1)).isoformat(),
        "customers": total,
        "segments": summary,
        "grid_r_by_f": grid,
    }

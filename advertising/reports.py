"""A campaign's daily report as rows, CSV and an inline SVG chart: one shape for the portal,
the REST API and the admin (rows come from DailyReport, kept by report_rollups_refresh)."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings

from ecommerce.money import money_plain

from .models import Campaign
from .selectors import report_rows, report_totals

CSV_COLUMNS = [
    "day",
    "impressions",
    "clicks",
    "ctr",
    "spend",
    "avg_cpc",
    "conversions",
    "revenue",
    "roas",
    "cpa",
    "currency",
]


def report_data(*, campaign: Campaign, since: date | None = None) -> dict[str, Any]:
    """{"currency", "rows": [...], "totals": {...}}; money as plain decimal strings (2 places)."""
    currency = settings.SHOP_CURRENCY
    rows = list(report_rows(campaign=campaign, since=since))

    def money(value: Decimal | None) -> str | None:
        return None if value is None else money_plain(value, currency)

    out_rows = [
        {
            "day": r.day.isoformat(),
            "impressions": r.impressions,
            "clicks": r.clicks,
            "ctr": round(r.ctr, 4),
            "spend": money(r.spend),
            "avg_cpc": money(r.avg_cpc),
            "conversions": r.conversions,
            "revenue": money(r.revenue),
            "roas": round(r.roas, 2),
            "cpa": money(r.cpa),
        }
        for r in rows
    ]
    t = report_totals(rows)
    totals = {
        "impressions": t["impressions"],
        "clicks": t["clicks"],
        "ctr": round(t["ctr"], 4),
        "spend": money(t["spend"]),
        "avg_cpc": money(t["avg_cpc"]),
        "conversions": t["conversions"],
        "revenue": money(t["revenue"]),
        "roas": round(t["roas"], 2),
        "cpa": money(t["cpa"]),
    }
    updated = max((r.updated_at for r in rows), default=None)
    return {
        "campaign_id": campaign.pk,
        "currency": currency,
        "rows": out_rows,
        "totals": totals,
        "updated_at": updated.isoformat() if updated else None,
    }


def report_csv(*, campaign: Campaign, since: date | None = None) -> str:
    """Money columns are plain decimals (a spreadsheet sums them); the currency is its own column."""
    data = report_data(campaign=campaign, since=since)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in data["rows"]:
        row = {**row, "ctr": f"{row['ctr']:.4f}", "roas": f"{row['roas']:.2f}", "cpa": row["cpa"] or ""}
        writer.writerow([*(row[c] for c in CSV_COLUMNS[:-1]), data["currency"]])
    return buffer.getvalue()


def report_chart(rows: list[dict[str, Any]], *, width: int = 720, height: int = 220) -> dict[str, Any]:
    """Geometry for an inline SVG: bars of spend and revenue per day, a line of clicks.

    Plain numbers for the template (no script: the CSP allows none from elsewhere)."""
    pad_left, pad_bottom, pad_top = 44, 28, 12
    plot_h = height - pad_bottom - pad_top
    n = max(len(rows), 1)
    step = (width - pad_left - 8) / n
    bar_w = max(min(step / 2 - 2, 22), 2)
    top_money = max([float(r["spend"] or 0) for r in rows] + [float(r["revenue"] or 0) for r in rows] + [0.01])
    top_clicks = max([r["clicks"] for r in rows] + [1])
    bars, points, labels = [], [], []
    for i, r in enumerate(rows):
        x = pad_left + i * step
        spend_h = plot_h * float(r["spend"] or 0) / top_money
        revenue_h = plot_h * float(r["revenue"] or 0) / top_money
        base = pad_top + plot_h
        bars.append(
            {
                "day": r["day"],
                "spend_x": round(x + 1, 1),
                "spend_y": round(base - spend_h, 1),
                "spend_h": round(spend_h, 1),
                "revenue_x": round(x + bar_w + 2, 1),
                "revenue_y": round(base - revenue_h, 1),
                "revenue_h": round(revenue_h, 1),
                "row": r,
            }
        )
        points.append(f"{round(x + bar_w + 1, 1)},{round(base - plot_h * r['clicks'] / top_clicks, 1)}")
        if n <= 10 or i % max(n // 8, 1) == 0:
            labels.append({"x": round(x + bar_w, 1), "text": r["day"][5:]})
    return {
        "width": width,
        "height": height,
        "bar_w": round(bar_w, 1),
        "bars": bars,
        "clicks_points": " ".join(points),
        "labels": labels,
        "axis_y": pad_top + plot_h,
        "pad_left": pad_left,
        "top_money": money_plain(Decimal(str(top_money)), settings.SHOP_CURRENCY),
        "top_clicks": top_clicks,
    }

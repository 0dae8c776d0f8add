"""Computing and saving the RFM and behaviour-cluster segments (read by recommender and ads)."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
from django.db.models import Avg, Count, F, Q, Sum
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay

from ecommerce.models import Event, Order

from .ml.clustering import choose_and_fit, describe
from .models import Segment
from .queries import RFM_SEGMENTS, rfm_scores
from .services import segment_save

logger = logging.getLogger(__name__)

FEATURES = [
    "orders",
    "avg_order_value",
    "avg_unit_price",
    "weekend_share",
    "night_share",
    "product_views",
    "searches",
    "cart_rate",
]
MIN_SHOPPERS = 10


def rfm_segments_save(*, as_of: date | None = None) -> dict[str, int]:
    """Save one Segment per named RFM class (kind=rfm), members replaced atomically."""
    as_of, rows = rfm_scores(as_of=as_of)
    sizes: dict[str, int] = {}
    for key, name, description, _ in RFM_SEGMENTS:
        members = [r for r in rows if r["segment"] == key]
        value = sum((r["monetary"] for r in members), Decimal("0"))
        segment_save(
            key=f"rfm-{key}",
            name=name,
            description=description,
            kind=Segment.Kind.RFM,
            user_ids=[r["user_id"] for r in members],
            stats={"size": len(members), "monetary": float(value), "as_of": as_of.isoformat()},
        )
        sizes[f"rfm-{key}"] = len(members)
    return sizes


def behaviour_features() -> tuple[list[int], np.ndarray, np.ndarray]:
    """One row per registered shopper with any order or event; aggregation in the database."""
    night = Q(hour__gte=20) | Q(hour__lt=6)
    events = (
        Event.objects.filter(user__isnull=False, user__is_staff=False)
        .annotate(wd=ExtractIsoWeekDay("occurred_at"), hour=ExtractHour("occurred_at"))
        .values("user_id")
        .annotate(
            total=Count("id"),
            weekend=Count("id", filter=Q(wd__gte=6)),
            night=Count("id", filter=night),
            views=Count("id", filter=Q(type=Event.Type.PRODUCT_VIEW)),
            searches=Count("id", filter=Q(type=Event.Type.SEARCH)),
            carts=Count("id", filter=Q(type=Event.Type.ADD_TO_CART)),
        )
    )
    positive = Q(items__quantity__gt=0, items__unit_price__gt=0)
    orders = (
        Order.objects.not_cancelled()
        .filter(user__isnull=False, user__is_staff=False)
        .annotate(wd=ExtractIsoWeekDay("placed_at"), hour=ExtractHour("placed_at"))
        .values("user_id")
        .annotate(
            n=Count("id", distinct=True),
            weekend=Count("id", distinct=True, filter=Q(wd__gte=6)),
            night=Count("id", distinct=True, filter=night),
            gmv=Sum(F("items__quantity") * F("items__unit_price"), filter=positive),
            unit=Avg("items__unit_price", filter=positive),
        )
    )
    per_user: dict[int, dict[str, float]] = {}
    for row in events:
        per_user[row["user_id"]] = {
            k: float(row[k]) for k in ("total", "weekend", "night", "views", "searches", "carts")
        }
    for row in orders:
        entry = per_user.setdefault(row["user_id"], {})
        entry.update(
            o_n=float(row["n"]),
            o_weekend=float(row["weekend"]),
            o_night=float(row["night"]),
            gmv=float(row["gmv"] or 0),
            unit=float(row["unit"] or 0),
        )
    user_ids = sorted(per_user)
    # Shoppers who never bought have no basket or item price: give them the buyers' average
    # (neutral) rather than 0, which would read as "buys very cheap" to KMeans.
    buyers = [e for e in per_user.values() if e.get("o_n")]
    mean_aov = float(np.mean([np.log1p(e["gmv"] / e["o_n"]) for e in buyers])) if buyers else 0.0
    mean_unit = float(np.mean([np.log1p(e["unit"]) for e in buyers])) if buyers else 0.0
    matrix = []
    for uid in user_ids:
        e = per_user[uid]
        acts = e.get("total", 0) + e.get("o_n", 0)
        n_orders = e.get("o_n", 0)
        matrix.append(
            [
                np.log1p(n_orders),
                np.log1p(e.get("gmv", 0) / n_orders) if n_orders else mean_aov,
                np.log1p(e.get("unit", 0)) if n_orders else mean_unit,
                (e.get("weekend", 0) + e.get("o_weekend", 0)) / acts if acts else 0.0,
                (e.get("night", 0) + e.get("o_night", 0)) / acts if acts else 0.0,
                np.log1p(e.get("views", 0)),
                np.log1p(e.get("searches", 0)),
                e.get("carts", 0) / e["views"] if e.get("views") else 0.0,
            ]
        )
    value = np.asarray([per_user[uid].get("gmv", 0.0) for uid in user_ids], dtype=float)
    return user_ids, np.asarray(matrix, dtype=float).reshape(len(user_ids), len(FEATURES)), value


def cluster_segments_save(*, random_state: int = 0) -> dict[str, Any]:
    """KMeans segments (kind=cluster): replaces all earlier cluster segments."""
    user_ids, x, value = behaviour_features()
    if len(user_ids) < MIN_SHOPPERS:
        logger.info("analytics.clustering_skipped", extra={"shoppers": len(user_ids)})
        return {"clusters": 0, "shoppers": len(user_ids), "skipped": "too few shoppers"}
    result = choose_and_fit(x, random_state=random_state)
    means = x.mean(axis=0)
    # Show log-scaled features back in their natural units in the descriptions.
    natural = result.centroids.copy()
    natural_means = means.copy()
    for i, feature in enumerate(FEATURES):
        if feature in ("orders", "avg_order_value", "avg_unit_price", "product_views", "searches"):
            natural[:, i] = np.expm1(natural[:, i])
            natural_means[i] = float(np.expm1(x[:, i]).mean())
    ids = np.asarray(user_ids)
    saved = []
    used_names: dict[str, int] = {}
    order = np.argsort([-np.sum(result.labels == c) for c in range(result.k)])
    for rank, c in enumerate(order, start=1):
        name, description = describe(result.centroid_z[c], natural[c], natural_means, FEATURES)
        used_names[name] = used_names.get(name, 0) + 1
        if used_names[name] > 1:
            name = f"{name} ({used_names[name]})"
        members = ids[result.labels == c].tolist()
        segment_save(
            key=f"cluster-{rank}",
            name=name,
            description=description,
            kind=Segment.Kind.CLUSTER,
            user_ids=members,
            stats={
                "size": len(members),
                "monetary": round(float(value[result.labels == c].sum()), 2),
                "centroid": dict(zip(FEATURES, np.round(natural[c], 3).tolist(), strict=True)),
                "silhouette_by_k": result.silhouette_by_k,
                "k": result.k,
            },
        )
        saved.append(f"cluster-{rank}")
    Segment.objects.filter(kind=Segment.Kind.CLUSTER).exclude(key__in=saved).delete()
    return {"clusters": result.k, "shoppers": len(user_ids), "silhouette_by_k": result.silhouette_by_k}


def segments_refresh() -> dict[str, Any]:
    """RFM then clustering: what the analytics.cluster_segments task and training job run."""
    return {"rfm": rfm_segments_save(), "clusters": cluster_segments_save()}

"""Privacy steps: a customer's precomputed recommendations are personal data."""

from __future__ import annotations

from typing import Any

from .models import UserRecommendation


def erase_recommendations_of(user: Any) -> dict[str, int]:
    deleted, _ = UserRecommendation.objects.filter(user=user).delete()
    return {"recommendations.UserRecommendation": deleted}


def export_recommendations_of(user: Any) -> list[dict[str, Any]]:
    return [
        {"product_id": r.product_id, "rank": r.rank, "score": r.score, "reason": r.reason,
         "model_version": r.model_version.version if r.model_version else None,
         "created_at": r.created_at.isoformat()}
        for r in UserRecommendation.objects.filter(user=user).select_related("model_version").order_by("model_version", "rank")
    ]

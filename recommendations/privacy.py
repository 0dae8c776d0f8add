"""Privacy steps: a customer's precomputed recommendations are personal data, and so is their
row inside a trained model.

Erasure deletes the precomputed rows at once and invalidates cached answers. The shopper's
`User.date_erased` is the exclusion list: training (purchase_history_frame, browsing
interactions) and serving (user_recommendations_precompute) skip erased users, so an artifact
trained before the erasure never serves them, and a retrain is queued after commit so the
serving artifact stops containing their row.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from ecommerce.models import Order
from ecommerce.outbox import task_enqueue

from .models import UserRecommendation
from .selectors import recommendations_generation_bump

logger = logging.getLogger(__name__)


def _queue_retrain() -> None:
    from .tasks import retrain_models_task

    # Through the outbox: account deletion is a request, and a retrain must not be lost when the
    # broker is down.
    task_enqueue(task=retrain_models_task)


def erase_recommendations_of(user: Any, *, subject: Any = None) -> dict[str, int]:
    deleted, _ = UserRecommendation.objects.filter(user=user).delete()
    # Purchases are the model's input: someone who never ordered is in no artifact.
    in_model_input = Order.objects.filter(user=user).exists()
    if in_model_input:
        _queue_retrain()
        logger.info("recommendations.retrain_queued_for_erasure", extra={"user_id": user.pk})
    # Cached API answers are keyed per customer: a new generation makes them all stale.
    transaction.on_commit(recommendations_generation_bump)
    return {"recommendations.UserRecommendation": deleted, "retrain_queued": int(in_model_input)}


def export_recommendations_of(user: Any, *, subject: Any = None) -> list[dict[str, Any]]:
    return [
        {
            "product_id": r.product_id,
            "rank": r.rank,
            "score": r.score,
            "reason": r.reason,
            "model_version": r.model_version.version if r.model_version else None,
            "created_at": r.created_at.isoformat(),
        }
        for r in UserRecommendation.objects.filter(user=user)
        .select_related("model_version")
        .order_by("model_version", "rank")
    ]

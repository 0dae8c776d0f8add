"""Settings of the recommendations app, read from Django settings or the environment."""

from __future__ import annotations

import os

from django.conf import settings


def _int(name: str, default: int) -> int:
    return int(getattr(settings, name, os.environ.get(name, default)))


# The registry name of the model whose precomputed rows serve shoppers.
ACTIVE_MODEL_NAME = "recommendations.personalized"
POPULARITY_WINDOW_DAYS = _int("RECOMMENDATIONS_POPULARITY_WINDOW_DAYS", 90)
POPULARITY_CACHE_SECONDS = _int("RECOMMENDATIONS_POPULARITY_CACHE_SECONDS", 600)
SESSION_HISTORY_LIMIT = _int("RECOMMENDATIONS_SESSION_HISTORY_LIMIT", 10)
# How many products per customer and neighbours per product the pipeline precomputes.
PRECOMPUTE_TOP_N = _int("RECOMMENDATIONS_PRECOMPUTE_TOP_N", 30)
SIMILAR_TOP_N = _int("RECOMMENDATIONS_SIMILAR_TOP_N", 20)
# Customers with an order or event in this many days are "active" and get precomputed rows.
ACTIVE_USER_DAYS = _int("RECOMMENDATIONS_ACTIVE_USER_DAYS", 365 * 3)
# How long an identical API answer is reused (retrains and rule changes invalidate it sooner).
RESPONSE_CACHE_SECONDS = _int("RECOMMENDATIONS_RESPONSE_CACHE_SECONDS", 60)

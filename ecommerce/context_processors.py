from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def storefront(request: HttpRequest) -> dict[str, Any]:
    return {
        "SHOP_NAME": settings.SHOP_NAME,
        "SHOP_CURRENCY": settings.SHOP_CURRENCY,
        "tracking_allowed": getattr(request, "tracking_allowed", False),
    }

"""Demo: give simulated ad clicks real shoppers, so the demo reports show conversions.

Why the demo's conversions and revenue were 0 on every row: the simulated impressions and clicks
(advertising.demo.simulated_traffic_store) name no shopper (user None, no session), and
attribution can only credit a purchase to the buyer's own click. This step (after the campaigns
and their traffic) hands some of those anonymous clicks to demo customers who placed an order
within the click window after it, as a consenting signed-in shopper's click would be recorded,
then recomputes the reports. Deterministic for a seed; a rerun links nothing new.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ecommerce.models import Order

from .models import Click, Conversion, Impression

DEMO_DAYS = 15
# Share of eligible orders whose buyer is given a click before the purchase.
LINK_SHARE = 0.35


def demo_ad_shoppers_link(*, seed: int, stdout) -> None:
    from .services import report_rollups_refresh

    if Conversion.objects.exists():
        stdout.write("advertising: demo conversions exist already\n")
        return
    rng = random.Random(f"{seed}:ad-shoppers")
    now = timezone.now()
    orders = list(
        Order.objects.not_cancelled()
        .exclude(status=Order.Status.PENDING)
        .filter(user__isnull=False, placed_at__gte=now - timedelta(days=DEMO_DAYS - 1), placed_at__lte=now)
        .order_by("placed_at", "pk")
        .values_list("user_id", "placed_at")
    )
    linked = 0
    with transaction.atomic():
        for user_id, placed_at in orders:
            if rng.random() > LINK_SHARE:
                continue
            click = (
                Click.objects.filter(
                    user__isnull=True,
                    created_at__lt=placed_at,
                    created_at__gte=placed_at - timedelta(days=rng.choice([0.5, 1, 2, 4, 6])),
                )
                .order_by("-created_at")
                .first()
            )
            if click is None:
                continue
            Click.objects.filter(pk=click.pk).update(user_id=user_id)
            Impression.objects.filter(pk=click.impression_id).update(user_id=user_id)
            linked += 1
    result = report_rollups_refresh(days=DEMO_DAYS)
    stdout.write(
        f"advertising: {linked} demo shoppers clicked before buying, "
        f"{result['conversions_attributed']} conversions attributed\n"
    )

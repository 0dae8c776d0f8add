"""Write side of analytics: saving segments (rollups live in analytics/rollups.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db import transaction

from ecommerce.errors import DomainError
from ecommerce.models import User

from .models import Segment, SegmentMembership

logger = logging.getLogger(__name__)


@transaction.atomic
def segment_save(
    *,
    key: str,
    name: str,
    description: str = "",
    user_ids: Iterable[int],
    kind: str = Segment.Kind.MANUAL,
    stats: dict[str, Any] | None = None,
) -> Segment:
    """Create or update a segment and replace its members in one transaction.

    Readers never see a half-replaced segment. Ids of users that do not exist are ignored
    (a user erased between computing and saving must not fail the whole save).
    """
    if kind not in Segment.Kind.values:
        raise DomainError(f"Unknown segment kind {kind!r}.")
    if not key:
        raise DomainError("A segment needs a key.")
    segment, _ = Segment.objects.select_for_update().get_or_create(
        key=key, defaults={"name": name, "description": description, "kind": kind}
    )
    segment.name, segment.description, segment.kind = name, description, kind
    if stats is not None:
        segment.stats = stats
    segment.save()
    wanted = {int(u) for u in user_ids}
    existing: set[int] = set()
    ordered = sorted(wanted)
    for start in range(0, len(ordered), 5000):  # stay under SQLite's bound-parameter limit
        chunk = ordered[start:start + 5000]
        existing.update(User.objects.filter(pk__in=chunk).values_list("pk", flat=True))
    SegmentMembership.objects.filter(segment=segment).delete()
    SegmentMembership.objects.bulk_create(
        [SegmentMembership(segment=segment, user_id=uid) for uid in sorted(existing)], batch_size=2000
    )
    logger.info("analytics.segment_saved", extra={"segment_id": segment.pk, "members": len(existing)})
    return segment


def segment_memberships_erase(user: User) -> dict[str, int]:
    """Privacy erasure step: a shopper's segment memberships are personal data."""
    deleted, _ = SegmentMembership.objects.filter(user=user).delete()
    return {"segment_memberships": deleted}


def segment_memberships_export(user: User) -> list[str]:
    """Privacy export step: which segments the shopper is in."""
    return sorted(SegmentMembership.objects.filter(user=user).values_list("segment__key", flat=True))


def rollups_refresh_enqueue(*, start: date, end: date) -> None:
    """Queue a rollup refresh of start..end once the current transaction commits.

    Registered as the data-loaded hook: imports write history whose `received_at` lies before the
    pending-refresh watermark, so only an explicit range makes their days appear on the dashboard.
    With eager Celery (the embedded default) it runs at once.
    """
    from .tasks import refresh_rollups_task

    refresh_rollups_task.delay_on_commit(start.isoformat(), end.isoformat())

"""Read side of analytics segments: the interface the recommender and ad targeting use."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, QuerySet

from .models import RollupState, Segment, SegmentMembership


def segments_for_user(*, user_id: int) -> list[str]:
    """Keys of the segments the user belongs to (sorted; empty for unknown users)."""
    return sorted(SegmentMembership.objects.filter(user_id=user_id).values_list("segment__key", flat=True))


def segment_member_ids(*, key: str) -> set[int]:
    """User ids in the segment; an unknown key is an empty set, never an error (targeting stays up)."""
    return set(SegmentMembership.objects.filter(segment__key=key).values_list("user_id", flat=True))


def segment_list(*, kind: str | None = None) -> QuerySet[Segment]:
    """All segments with their member count annotated as `size`."""
    qs = Segment.objects.annotate(size=Count("memberships"))
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("kind", "key")


def rollups_refreshed_at() -> datetime | None:
    """When the dashboard's rollups were last refreshed (None: never)."""
    return (
        RollupState.objects.filter(refreshed_at__isnull=False)
        .values_list("refreshed_at", flat=True)
        .order_by("-refreshed_at")
        .first()
    )

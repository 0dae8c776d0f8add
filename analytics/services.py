"""Write side of analytics: saving segments (rollups live in analytics/rollups.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction

from ecommerce.errors import DomainError
from ecommerce.models import User

from .models import DailyActor, DailySearcher, FunnelEntry, Segment, SegmentMembership
from .top_store import searches_erase

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
        chunk = ordered[start : start + 5000]
        existing.update(User.objects.filter(pk__in=chunk).values_list("pk", flat=True))
    SegmentMembership.objects.filter(segment=segment).delete()
    SegmentMembership.objects.bulk_create(
        [SegmentMembership(segment=segment, user_id=uid) for uid in sorted(existing)], batch_size=2000
    )
    logger.info("analytics.segment_saved", extra={"segment_id": segment.pk, "members": len(existing)})
    return segment


def _actor_keys(user: User, subject: Any) -> list[str]:
    """The shopper's keys in the actor-day rollup: "u<id>" and "a<anonymous id>" (the rollups'
    actor_expr), the anonymous ids being those ecommerce.privacy proved to be theirs."""
    if subject is not None:
        return list(subject.actor_keys())
    return [f"u{user.pk}"]


def segment_memberships_erase(user: User, *, subject: Any = None) -> dict[str, int]:
    """Privacy erasure step: segment memberships and actor-day rows are personal data.

    Actor-day rows are deleted, not re-keyed: re-running the rollup over the (now anonymous)
    events would not count the shopper either. Aggregates (daily metrics, HyperLogLog sketches,
    cohort cells) hold counts only and stay.
    """
    deleted, _ = SegmentMembership.objects.filter(user=user).delete()
    keys = _actor_keys(user, subject)
    actor_days, _ = DailyActor.objects.filter(actor__in=keys).delete()
    funnel_entries, _ = FunnelEntry.objects.filter(actor__in=keys).delete()
    searches = searches_erase(keys)
    return {
        "segment_memberships": deleted,
        "daily_actors": actor_days,
        "funnel_entries": funnel_entries,
        "daily_searches": searches,
    }


def segment_memberships_export(user: User, *, subject: Any = None) -> dict[str, Any]:
    """Privacy export step: which segments the shopper is in, and the actor-day rows."""
    return {
        "segments": sorted(SegmentMembership.objects.filter(user=user).values_list("segment__key", flat=True)),
        "active_days": [
            {"day": row["day"].isoformat(), "metric": row["metric"], "actor": row["actor"], "country": row["country"]}
            for row in DailyActor.objects.filter(actor__in=_actor_keys(user, subject))
            .order_by("day", "metric", "actor")
            .values("day", "metric", "actor", "country")[:50_000]
        ],
        "funnel_days": [
            {"funnel": row["funnel"], "day": row["day"].isoformat(), "actor": row["actor"]}
            for row in FunnelEntry.objects.filter(actor__in=_actor_keys(user, subject))
            .order_by("day", "funnel")
            .values("funnel", "day", "actor")[:50_000]
        ],
        "search_days": [
            {"day": row["day"].isoformat(), "term": row["term"], "actor": row["actor"], "count": row["count"]}
            for row in DailySearcher.objects.filter(actor__in=_actor_keys(user, subject))
            .order_by("day", "term")
            .values("day", "term", "actor", "count")[:50_000]
        ],
    }


def rollups_refresh_enqueue(*, start: date, end: date) -> None:
    """Queue a rollup refresh of start..end once the current transaction commits.

    Registered as the data-loaded hook: imports write history whose `received_at` lies before the
    pending-refresh watermark, so only an explicit range makes their days appear on the dashboard.
    With eager Celery (the embedded default) it runs at once after the commit.
    """
    from ecommerce.outbox import task_enqueue

    from .tasks import refresh_rollups_task

    # The outbox: a merchant's refresh or an import must not hang or be lost when the broker is down.
    task_enqueue(task=refresh_rollups_task, args=[start.isoformat(), end.isoformat()])


# A refresh a merchant asks for from the dashboard recomputes at most this many days (a year plus
# a leap day): longer ranges are an operator's job (manage.py refresh_analytics).
MAX_REQUESTED_REFRESH_DAYS = 366


@dataclass(frozen=True)
class RefreshOutcome:
    ok: bool
    message: str


def rollups_refresh_request(*, start: str, end: str) -> RefreshOutcome:
    """Validate a dashboard refresh request (ISO dates from the page) and queue it."""
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        return RefreshOutcome(False, "Give the range to refresh as two dates (YYYY-MM-DD).")
    if last < first:
        return RefreshOutcome(False, "The end of the range is before its start.")
    if (last - first).days + 1 > MAX_REQUESTED_REFRESH_DAYS:
        return RefreshOutcome(
            False,
            f"Refresh at most {MAX_REQUESTED_REFRESH_DAYS} days at a time (all history: manage.py refresh_analytics).",
        )
    rollups_refresh_enqueue(start=first, end=last)
    logger.info("analytics.refresh_requested", extra={"start": first.isoformat(), "end": last.isoformat()})
    return RefreshOutcome(True, f"Refresh of {first} to {last} queued; the figures update when it has run.")

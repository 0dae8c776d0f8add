"""Analytics tables: saved segments (read by the recommender and ad targeting) and the rollups
the dashboard reads so that its cost does not grow with the raw event count."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone


class Segment(models.Model):
    """A named, reusable set of shoppers (RFM class, behaviour cluster or a hand-made list)."""

    class Kind(models.TextChoices):
        RFM = "rfm", "RFM"
        CLUSTER = "cluster", "Behaviour cluster"
        MANUAL = "manual", "Manual"

    key = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.MANUAL)
    # Summary figures written with the members (size, value, centroid...): shown on the dashboard.
    stats = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "key"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"


class SegmentMembership(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="segment_memberships")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "user"], name="segmentmembership_unique_user"),
        ]
        indexes = [models.Index(fields=["user", "segment"])]

    def __str__(self) -> str:
        return f"User {self.user_id} in segment {self.segment_id}"


class DailyMetric(models.Model):
    """One row per day × country × metric key.

    Metric keys: "event:<type>" (events and distinct actors of that type), "orders" (orders,
    GMV, distinct customers of non-cancelled orders), "visitors" (distinct users + anonymous ids
    with any event). Counts of distinct actors cannot be summed across days: multi-day distinct
    figures (WAU/MAU, visitors over a range) use the per-day actor table DailyActor instead.
    """

    day = models.DateField()
    country = models.CharField(max_length=64, blank=True, default="")
    metric = models.CharField(max_length=48)
    count = models.BigIntegerField(default=0)
    actors = models.BigIntegerField(default=0)
    amount = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0"))
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "country", "metric"], name="dailymetric_unique"),
        ]
        indexes = [models.Index(fields=["metric", "day"])]

    def __str__(self) -> str:
        return f"{self.metric} on {self.day} ({self.country or 'all countries'})"


class HourlyMetric(models.Model):
    """Same as DailyMetric per hour (all countries): hour-interval trends and the heat-map."""

    hour = models.DateTimeField()
    metric = models.CharField(max_length=48)
    count = models.BigIntegerField(default=0)
    actors = models.BigIntegerField(default=0)
    amount = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hour", "metric"], name="hourlymetric_unique"),
        ]
        indexes = [models.Index(fields=["metric", "hour"])]

    def __str__(self) -> str:
        return f"{self.metric} at {self.hour}"


class DailyActor(models.Model):
    """Who was active on a day (actor = "u<user id>" or "a<anonymous id>"), per metric.

    Its size grows with daily active actors, not with events: distinct counts over any range
    (visitors, WAU/MAU, customers) are exact Count(distinct) over this table.
    """

    day = models.DateField()
    metric = models.CharField(max_length=48)
    actor = models.CharField(max_length=72)
    country = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "metric", "actor"], name="dailyactor_unique"),
        ]
        indexes = [models.Index(fields=["metric", "day"])]

    def __str__(self) -> str:
        return f"{self.metric} actor {self.pk} on {self.day}"


class RollupState(models.Model):
    """Watermark of the rollup task: events received after it may touch already-rolled days."""

    name = models.CharField(max_length=32, unique=True)
    last_received_at = models.DateTimeField(null=True, blank=True)
    last_order_updated_at = models.DateTimeField(null=True, blank=True)
    # When any refresh (pending, a day range or all history) last finished: the dashboard shows it.
    refreshed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class Dashboard(Segment):
    """Not a table: a proxy so the admin index lists "Analytics › Dashboard" linking to the page."""

    class Meta:
        proxy = True
        verbose_name = "dashboard"
        verbose_name_plural = "dashboard"
        permissions = [("view_analytics", "Can see the shop's analytics (dashboard page and API)")]


class ActorSketch(models.Model):
    """Per day and actor group ("active" = any event or order; "orders" = buyers), all countries:
    the exact distinct count of that day and a HyperLogLog sketch (p=12, 4 KiB, ±1.6 %) of who.

    Distinct counts over ranges too large to count exactly from DailyActor merge these sketches,
    so KPIs and visitor/customer trends cost O(days), whatever the traffic (docs/analytics.md).
    """

    day = models.DateField()
    metric = models.CharField(max_length=48)
    actors = models.BigIntegerField(default=0)
    registers = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "metric"], name="actorsketch_unique")]

    def __str__(self) -> str:
        return f"{self.metric} on {self.day}: {self.actors} actors"


class CohortCell(models.Model):
    """Purchase retention precomputed by the rollup task: customers of a cohort (first period
    with a non-cancelled order) active in a later period. Read by the dashboard when no segment
    or country filter applies, so retention costs O(cohorts × periods) whatever the traffic."""

    metric = models.CharField(max_length=48)
    period = models.CharField(max_length=8)  # week | month
    cohort = models.DateField()
    period_start = models.DateField()
    actors = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["metric", "period", "cohort", "period_start"], name="cohortcell_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.period} cohort {self.cohort}, period {self.period_start}"

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
    # How many events (orders for "orders") the actor had that day: the browsing distribution.
    count = models.BigIntegerField(default=0)
    # analytics.sampling.sample_level(actor): a fixed hash level, so "level >= L" is the same
    # 1/2^L of actors on every day and panels over huge ranges read a uniform sample of actors.
    sample = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "metric", "actor"], name="dailyactor_unique"),
        ]
        indexes = [models.Index(fields=["metric", "day"]), models.Index(fields=["metric", "sample", "day"])]

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


class DailyProduct(models.Model):
    """Per day × country × product: GMV, units and orders of its lines in non-cancelled orders
    (country as for orders) and its product views (country as for events): the top-products
    panel sums days instead of scanning order lines and events."""

    day = models.DateField()
    # NULL: all countries together (what the unfiltered panel reads: one row per product and day
    # instead of one per country, docs/benchmarks/analytics.md). "" is "no known country".
    country = models.CharField(max_length=64, blank=True, null=True)  # noqa: DJ001 (NULL means all)
    product_id = models.BigIntegerField()
    revenue = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0"))
    units = models.BigIntegerField(default=0)
    orders = models.BigIntegerField(default=0)
    views = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "country", "product_id"], name="dailyproduct_unique"),
        ]
        indexes = [models.Index(fields=["day", "country"])]

    def __str__(self) -> str:
        return f"product {self.product_id} on {self.day} ({self.country or 'all countries'})"


class FunnelEntry(models.Model):
    """The per-actor step table of a stored funnel (analytics.funnels_store.STORED_FUNNELS): one
    row per actor and day on which the actor did the funnel's first step. `entered_at` is that
    day's first step-1 event; d2..d8 are the seconds from it to the earliest step k done at or
    after step k-1, within ANALYTICS_FUNNEL_MAX_WINDOW_DAYS (NULL: not reached).

    A funnel over a range takes each actor's first entry day in the range; a step counts when
    d_k <= the requested window. That equals the raw ordered-funnel query for any window up to
    the stored one and any prefix of the stored steps (tests/analytics/test_panel_rollups.py)."""

    funnel = models.CharField(max_length=32)
    day = models.DateField()
    actor = models.CharField(max_length=72)
    user_id = models.BigIntegerField(null=True, blank=True)
    sample = models.PositiveSmallIntegerField(default=0)
    entered_at = models.DateTimeField()
    d2 = models.FloatField(null=True, blank=True)
    d3 = models.FloatField(null=True, blank=True)
    d4 = models.FloatField(null=True, blank=True)
    d5 = models.FloatField(null=True, blank=True)
    d6 = models.FloatField(null=True, blank=True)
    d7 = models.FloatField(null=True, blank=True)
    d8 = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["funnel", "day", "actor"], name="funnelentry_unique"),
        ]
        indexes = [models.Index(fields=["funnel", "day"]), models.Index(fields=["funnel", "sample", "day"])]

    def __str__(self) -> str:
        return f"{self.funnel} entry of {self.actor} on {self.day}"


class DailyTop(models.Model):
    """Per day × country × dimension × key: the top tables other than products, summed over the
    days of a range instead of scanning order lines and events (docs/analytics.md).

    Dimensions: "category" (key = the product's category id at rollup time, "" for none; GMV,
    units and distinct orders of its non-fee lines, order country), "country" (key = the order
    country, only all-countries rows; GMV and distinct orders) and "search" (key = the lowercased
    term; searches, distinct searchers that day, searches whose event recorded results = 0 and
    searches logged without a results count; event country). `country` NULL: all countries."""

    class Dimension(models.TextChoices):
        CATEGORY = "category", "Category"
        COUNTRY = "country", "Country"
        SEARCH = "search", "Search term"

    day = models.DateField()
    dimension = models.CharField(max_length=16, choices=Dimension.choices)
    country = models.CharField(max_length=64, blank=True, null=True)  # noqa: DJ001 (NULL means all)
    key = models.CharField(max_length=255, blank=True, default="")
    revenue = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0"))
    units = models.BigIntegerField(default=0)
    orders = models.BigIntegerField(default=0)
    count = models.BigIntegerField(default=0)
    actors = models.BigIntegerField(default=0)
    zero = models.BigIntegerField(default=0)
    unrecorded = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "dimension", "country", "key"], name="dailytop_unique"),
        ]
        indexes = [models.Index(fields=["dimension", "day", "country"])]

    def __str__(self) -> str:
        return f"{self.dimension} {self.key!r} on {self.day} ({self.country or 'all countries'})"


class DailySearcher(models.Model):
    """Who searched a term on a day (actor as in DailyActor, with its hash sample level): distinct
    searchers of the top terms over a range, exact up to ANALYTICS_EXACT_ACTOR_DAYS term-actor-days
    and from a uniform sample of actors beyond. Personal data: erased with the shopper."""

    day = models.DateField()
    term = models.CharField(max_length=255)
    actor = models.CharField(max_length=72)
    country = models.CharField(max_length=64, blank=True, default="")
    sample = models.PositiveSmallIntegerField(default=0)
    count = models.BigIntegerField(default=0)
    # Its share of DailyTop's zero / unrecorded counts: an erasure subtracts the row from them.
    zero = models.BigIntegerField(default=0)
    unrecorded = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "term", "actor"], name="dailysearcher_unique"),
        ]
        indexes = [models.Index(fields=["term", "sample", "day"]), models.Index(fields=["day"])]

    def __str__(self) -> str:
        return f"{self.actor} searched {self.term!r} on {self.day}"


class PanelSnapshot(models.Model):
    """A panel over all history computed by the rollup refresh (today: the RFM summary for its
    default reference date), so the dashboard reads one row instead of every order."""

    name = models.CharField(max_length=32, unique=True)
    as_of = models.DateField()
    data = models.JSONField(default=dict)
    computed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} as of {self.as_of}"

"""Advertising: advertisers, campaigns with targeting and caps, ads, billing-grade impressions
and clicks, attributed conversions, per-day report rollups and lookalike audience scores.

Money is Decimal. Spend is only ever changed by `advertising.services.campaign_charge`, a single
conditional UPDATE, so concurrent requests can never push a campaign over its budget.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ecommerce.roles import VIEW_ALL_CAMPAIGNS, user_can

MONEY = {"max_digits": 14, "decimal_places": 6}  # CPM charges are fractions of a penny
ZERO = Decimal("0")


# User.Gender codes a campaign may target.
GENDER_CODES = frozenset({"f", "m", "o"})


class Advertiser(models.Model):
    """A merchant or brand that buys ads. Its users (non-staff accounts) reach only its campaigns."""

    name = models.CharField(max_length=200, unique=True)
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="advertiser_accounts")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CampaignQuerySet(models.QuerySet):
    def visible_to(self, user) -> CampaignQuerySet:
        """Holders of advertising.view_campaign (Marketing, superusers) see all; an advertiser's
        members see its campaigns; everyone else, staff or not, none."""
        if not user or not user.is_authenticated or not user.is_active:
            return self.none()
        if user_can(user, VIEW_ALL_CAMPAIGNS):
            return self
        return self.filter(advertiser__users=user).distinct()

    def live(self, now=None) -> CampaignQuerySet:
        """Serving campaigns: active, approved by the merchant, within their dates."""
        now = now or timezone.now()
        return self.filter(
            status=Campaign.Status.ACTIVE,
            review_status=Campaign.Review.APPROVED,
            starts_at__lte=now,
            advertiser__is_active=True,
        ).filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        FINISHED = "finished", "Finished"

    # The only legal moves; advertising.services.campaign_transition enforces them.
    TRANSITIONS: dict[str, set[str]] = {
        Status.DRAFT: {Status.ACTIVE, Status.FINISHED},
        Status.ACTIVE: {Status.PAUSED, Status.FINISHED},
        Status.PAUSED: {Status.ACTIVE, Status.FINISHED},
        Status.FINISHED: set(),
    }

    class Review(models.TextChoices):
        """The merchant's approval, separate from the lifecycle status: an advertiser may pause and
        resume an approved campaign, but only an approved one ever serves (CampaignQuerySet.live)."""

        PENDING = "pending_review", "Pending review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    class Objective(models.TextChoices):
        TRAFFIC = "traffic", "Traffic (clicks)"
        SALES = "sales", "Sales (conversions)"
        AWARENESS = "awareness", "Awareness (impressions)"

    class BidType(models.TextChoices):
        CPC = "cpc", "Cost per click"
        CPM = "cpm", "Cost per 1,000 impressions"

    class Retarget(models.TextChoices):
        NONE = "", "No retargeting"
        VIEWED = "viewed", "Viewed a promoted product/category"
        CARTED = "carted", "Added a promoted product/category to the cart"

    advertiser = models.ForeignKey(Advertiser, on_delete=models.PROTECT, related_name="campaigns")
    name = models.CharField(max_length=200)
    objective = models.CharField(max_length=16, choices=Objective.choices, default=Objective.TRAFFIC)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, editable=False)
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(null=True, blank=True)
    daily_budget = models.DecimalField(**MONEY)
    total_budget = models.DecimalField(**MONEY)
    bid_type = models.CharField(max_length=3, choices=BidType.choices, default=BidType.CPC)
    bid = models.DecimalField(**MONEY, help_text="Maximum price per click (CPC) or per 1,000 impressions (CPM).")
    # Spend: written only by services.campaign_charge (conditional UPDATE with F expressions).
    spend_total = models.DecimalField(**MONEY, default=ZERO, editable=False)
    spend_today = models.DecimalField(**MONEY, default=ZERO, editable=False)
    spend_day = models.DateField(null=True, blank=True, editable=False)

    # Targeting. Empty means "anyone".
    min_age = models.PositiveSmallIntegerField(null=True, blank=True)
    max_age = models.PositiveSmallIntegerField(null=True, blank=True)
    genders = models.JSONField(default=list, blank=True, help_text='Subset of ["f", "m", "o"]; empty = all.')
    countries = models.JSONField(default=list, blank=True, help_text="Country names; empty = all countries.")
    interest_categories = models.ManyToManyField("ecommerce.Category", blank=True, related_name="+")
    segments = models.JSONField(default=list, blank=True, help_text="Analytics segment keys; empty = all.")
    retarget = models.CharField(max_length=8, choices=Retarget.choices, blank=True, default="")
    retarget_days = models.PositiveSmallIntegerField(default=30)
    retarget_categories = models.ManyToManyField("ecommerce.Category", blank=True, related_name="+")
    # Lookalike: serve only to shoppers the audience classifier scores at least this high.
    lookalike_min_score = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="0-1; shoppers the 'likely interested' classifier scores at least this high.",
    )
    # Frequency caps. Empty means uncapped.
    cap_per_user_day = models.PositiveSmallIntegerField(null=True, blank=True)
    cap_per_session = models.PositiveSmallIntegerField(null=True, blank=True)
    # Attribution windows (advertising.attribution): a purchase up to this many days after a click
    # on the campaign's ad, or after an impression of it (view-through; 0 = clicks only).
    attribution_days = models.PositiveSmallIntegerField(
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text="Click window: days after a click in which a purchase counts as a conversion.",
    )
    view_attribution_days = models.PositiveSmallIntegerField(
        default=1,
        validators=[MaxValueValidator(30)],
        help_text="View window: days after an impression without click (0 = count clicks only).",
    )
    # Merchant approval. Campaigns made by the merchant (admin, demo) start approved; campaigns an
    # advertiser creates, or whose ads an advertiser changes, wait for review.
    review_status = models.CharField(
        max_length=16, choices=Review.choices, default=Review.APPROVED, editable=False, db_index=True
    )
    review_reason = models.CharField(max_length=500, blank=True, default="", editable=False)
    reviewed_at = models.DateTimeField(null=True, blank=True, editable=False)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    # Serve where the product does not fit the page too (below the relevance floor); off, an
    # untargeted ad only shows next to related products, categories and searches.
    run_of_site = models.BooleanField(
        default=False,
        help_text="Also show the ads on pages they do not fit (other categories, unrelated searches).",
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "starts_at"])]
        permissions = [("review_campaign", "Can approve or reject advertisers' campaigns")]
        constraints = [
            # Backstop for campaign_charge: the database itself refuses overspend.
            models.CheckConstraint(
                condition=Q(spend_total__lte=models.F("total_budget")), name="campaign_spend_within_total_budget"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def can_transition_to(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, set())

    def clean(self) -> None:
        """Reject campaigns that cannot run or cannot ever match anyone."""
        errors: dict[str, str] = {}
        if self.ends_at and self.starts_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = "The end must be after the start."
        for name in ("daily_budget", "total_budget", "bid"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                errors[name] = "Must be greater than zero."
        if self.daily_budget and self.total_budget and self.daily_budget > self.total_budget:
            errors["daily_budget"] = "The daily budget cannot exceed the total budget."
        if self.bid and self.bid_type == self.BidType.CPC and self.daily_budget and self.bid > self.daily_budget:
            errors["bid"] = "A click bid above the daily budget could never be paid."
        if self.bid and self.bid_type == self.BidType.CPM and self.daily_budget and self.bid / 1000 > self.daily_budget:
            errors["bid"] = "An impression bid above the daily budget could never be paid."
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            errors["max_age"] = "The minimum age is above the maximum age: nobody could match."
        if self.max_age is not None and self.max_age < 13:
            errors["max_age"] = "Shoppers under 13 cannot be targeted: nobody could match."
        # Check the element types before comparing: a nested list or object is unhashable.
        if not isinstance(self.genders, list) or not all(
            isinstance(g, str) and g in GENDER_CODES for g in self.genders
        ):
            errors["genders"] = 'Genders must be a list of "f", "m", "o".'
        if not isinstance(self.countries, list) or not all(isinstance(c, str) and c.strip() for c in self.countries):
            errors["countries"] = "Countries must be a list of non-empty country names."
        if not isinstance(self.segments, list) or not all(isinstance(s, str) and s.strip() for s in self.segments):
            errors["segments"] = "Segments must be a list of segment keys."
        if self.retarget and not self.retarget_days:
            errors["retarget_days"] = "Retargeting needs a window of at least one day."
        if self.cap_per_user_day == 0:
            errors["cap_per_user_day"] = "A cap of 0 would never serve; leave it empty for no cap."
        if self.cap_per_session == 0:
            errors["cap_per_session"] = "A cap of 0 would never serve; leave it empty for no cap."
        if self.lookalike_min_score is not None and not 0 <= self.lookalike_min_score <= 1:
            errors["lookalike_min_score"] = "Must be between 0 and 1."
        if errors:
            raise ValidationError(errors)


def gender_codes_of(value: object) -> frozenset[str]:
    """The valid gender codes in a stored `genders` value; anything malformed is ignored.

    Rows written around clean() (a raw UPDATE, an old import) must not crash serving.
    """
    if not isinstance(value, list):
        return frozenset()
    return frozenset(g for g in value if isinstance(g, str) and g in GENDER_CODES)


def landing_url_is_safe(url: str) -> bool:
    """http(s) anywhere, or a path on this shop; never another scheme or a //host URL."""
    lowered = url.strip().lower()
    if lowered.startswith(("http://", "https://")):
        return True
    return lowered.startswith("/") and not lowered.startswith(("//", "/\\"))


def landing_url_is_external(url: str) -> bool:
    return url.strip().lower().startswith(("http://", "https://"))


def validate_landing_url(value: str) -> None:
    """A landing URL: an http(s) URL, or a path on this shop such as /products/7/."""
    if not landing_url_is_safe(value) or any(c.isspace() for c in value.strip()):
        raise ValidationError("Enter an http(s) URL or a path on this shop such as /products/7/.")
    if landing_url_is_external(value):
        from django.core.validators import URLValidator

        URLValidator(schemes=["http", "https"])(value)


# The name migration 0004 (run_of_site) refers to.
landing_url_validate = validate_landing_url


class Ad(models.Model):
    """One creative. The landing URL is the only place a click on it may redirect to."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="ads")
    headline = models.CharField(max_length=90)
    image_url = models.CharField(
        max_length=500, blank=True, default="", validators=[landing_url_validate], help_text="Shop path or http(s) URL."
    )
    product = models.ForeignKey("ecommerce.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    landing_url = models.CharField(
        max_length=500,
        validators=[validate_landing_url],
        help_text="Where a click goes: the product's page (/products/7/) or an http(s) URL.",
    )
    is_active = models.BooleanField(default=True)
    # Counters for the smoothed-CTR fallback (updated with F expressions).
    impressions_count = models.PositiveIntegerField(default=0, editable=False)
    clicks_count = models.PositiveIntegerField(default=0, editable=False)

    def __str__(self) -> str:
        return self.headline

    def clean(self) -> None:
        if self.landing_url and not landing_url_is_safe(self.landing_url):
            raise ValidationError({"landing_url": "The landing URL must be an http(s) URL."})


class Impression(models.Model):
    """One ad shown to one shopper, with the auction's price. Billing-grade: never edited."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="impressions")
    ad = models.ForeignKey(Ad, on_delete=models.PROTECT, related_name="impressions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    session_key = models.CharField(max_length=64, blank=True, default="")
    slot = models.CharField(max_length=16)
    bid_type = models.CharField(max_length=3, choices=Campaign.BidType.choices)
    # GSP price in bid units: per click for CPC, per 1,000 impressions for CPM.
    price = models.DecimalField(**MONEY)
    # What this impression itself cost (CPM: price / 1000; CPC: 0, the click pays).
    charged = models.DecimalField(**MONEY, default=ZERO)
    pctr = models.FloatField()
    # Model features at serving time (age band, gender, country, segment, category, hour...):
    # the click model is retrained from these, so training sees what serving saw.
    features = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Generated at serve time, before the row exists: the click token names it, so a click that
    # arrives before the buffer is flushed still finds (or writes) its impression. Null on rows
    # written before serving was buffered.
    uid = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    # False while a buffered CPM charge has not yet been added to the campaign's spend: the flush
    # task (advertising.flush_impressions) settles it once and flips this in the same transaction.
    settled = models.BooleanField(default=True, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["settled"], condition=Q(settled=False), name="impression_unsettled"),
            models.Index(fields=["campaign", "created_at"]),
            models.Index(fields=["user", "created_at"]),
            models.Index(fields=["session_key", "created_at"]),
            models.Index(fields=["created_at"]),
        ]

    def __str__(self) -> str:
        return f"Impression {self.pk} of ad {self.ad_id} ({self.slot})"


class Click(models.Model):
    """At most one billable click per impression (the unique key de-duplicates repeats)."""

    impression = models.OneToOneField(Impression, on_delete=models.PROTECT, related_name="click")
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="clicks")
    ad = models.ForeignKey(Ad, on_delete=models.PROTECT, related_name="clicks")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    charged = models.DecimalField(**MONEY, default=ZERO)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["campaign", "created_at"]), models.Index(fields=["user", "created_at"])]

    def __str__(self) -> str:
        return f"Click {self.pk} on impression {self.impression_id}"


class Conversion(models.Model):
    """A purchase attributed to the shopper's last ad touch within the campaign's window
    (advertising.attribution: the last click within its click window, else the last impression
    within its view window). One per order: the unique order makes a second attribution fail."""

    class Kind(models.TextChoices):
        CLICK = "click", "Click-through"
        VIEW = "view", "View-through"

    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.CLICK)
    click = models.ForeignKey(Click, null=True, blank=True, on_delete=models.PROTECT, related_name="conversions")
    impression = models.ForeignKey(
        Impression, null=True, blank=True, on_delete=models.PROTECT, related_name="conversions"
    )
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="conversions")
    order = models.OneToOneField("ecommerce.Order", on_delete=models.CASCADE, related_name="+")
    revenue = models.DecimalField(max_digits=14, decimal_places=2)
    converted_at = models.DateTimeField()
    touched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["campaign", "converted_at"])]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="click") & Q(click__isnull=False)) | (Q(kind="view") & Q(impression__isnull=False)),
                name="conversion_has_its_touch",
            ),
        ]

    def __str__(self) -> str:
        return f"Order {self.order_id} converted for campaign {self.campaign_id}"


class DailyReport(models.Model):
    """Per campaign and day, recomputed idempotently by advertising.refresh_report_rollups."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="daily_reports")
    day = models.DateField()
    impressions = models.PositiveIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)
    spend = models.DecimalField(**MONEY, default=ZERO)
    conversions = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["campaign", "day"]
        constraints = [models.UniqueConstraint(fields=["campaign", "day"], name="dailyreport_unique_day")]

    def __str__(self) -> str:
        return f"Campaign {self.campaign_id} on {self.day}"

    @property
    def ctr(self) -> float:
        return self.clicks / self.impressions if self.impressions else 0.0

    @property
    def avg_cpc(self) -> Decimal:
        return (self.spend / self.clicks).quantize(Decimal("0.0001")) if self.clicks else ZERO

    @property
    def roas(self) -> float:
        """Return on ad spend: attributed revenue / spend (0 without spend)."""
        return float(self.revenue / self.spend) if self.spend else 0.0

    @property
    def cpa(self) -> Decimal | None:
        """Cost per acquisition: spend / conversions (None without conversions)."""
        return (self.spend / self.conversions).quantize(Decimal("0.0001")) if self.conversions else None


class AudienceScore(models.Model):
    """The 'likely interested' classifier's score of one shopper for one campaign."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="audience_scores")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "user"], name="audiencescore_unique")]
        indexes = [models.Index(fields=["campaign", "score"])]

    def __str__(self) -> str:
        return f"Campaign {self.campaign_id} audience score of user {self.user_id}"


class AdsSettings(models.Model):
    """The merchant's advertising settings: one row (pk=1), read through advertising.conf
    (cached; the environment's ADS_* values apply until the merchant saves this)."""

    reserve_cpc = models.DecimalField(
        **MONEY, help_text="Least price per click anybody pays (also the least CPC bid that may enter)."
    )
    reserve_cpm = models.DecimalField(**MONEY, help_text="Least price per 1,000 impressions.")
    allowed_slots = models.JSONField(
        default=list, blank=True, help_text="Slots that may show sponsored products; empty = none."
    )
    allow_external_landing_urls = models.BooleanField(
        default=False,
        help_text="Advertisers may send clicks to their own site; otherwise only to product pages of this shop.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "advertising settings"
        verbose_name_plural = "advertising settings"

    def __str__(self) -> str:
        return "Advertising settings"

    def clean(self) -> None:
        from .conf import SLOTS

        errors: dict[str, str] = {}
        for name in ("reserve_cpc", "reserve_cpm"):
            value = getattr(self, name)
            if value is not None and value < 0:
                errors[name] = "Cannot be negative."
        if not isinstance(self.allowed_slots, list) or not all(s in SLOTS for s in self.allowed_slots):
            errors["allowed_slots"] = f"Slots must be a list of {', '.join(SLOTS)}."
        if errors:
            raise ValidationError(errors)


class ApiToken(models.Model):
    """A per-advertiser REST API key. Only its SHA-256 is stored: the key is shown once, when
    created in the portal. It acts as the member who created it (scoped to the advertiser's
    campaigns) and stops working when revoked or when that member leaves the advertiser."""

    advertiser = models.ForeignKey(Advertiser, on_delete=models.CASCADE, related_name="api_tokens")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="The key's first characters, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

"""Recommendation tables: precomputed rows the request path reads, and the merchant's rules.

Training never runs on a request: the Celery pipeline writes UserRecommendation and
SimilarProduct rows; selectors read them and apply BusinessRules at serving time so a rule
change in the admin takes effect without a retrain.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from ecommerce.models import Category, ModelVersion, Product


class UserRecommendation(models.Model):
    """Top-N products for one customer, as computed by one model version."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recommendations")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveIntegerField()
    score = models.FloatField()
    # Human-readable "because you bought X" shown in the admin preview and the API.
    reason = models.CharField(max_length=255, blank=True, default="")
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "product", "model_version"], name="userrec_unique_product_version"),
        ]
        indexes = [models.Index(fields=["user", "model_version", "rank"])]
        ordering = ["user", "rank"]
        permissions = [("view_customer_recommendations", "Can see any customer's recommendations")]

    def __str__(self) -> str:
        return f"#{self.rank} for user {self.user_id}: product {self.product_id}"


class SimilarProduct(models.Model):
    """Item-to-item neighbours: content/CF 'similar' and co-purchase 'bought_together'."""

    class Kind(models.TextChoices):
        SIMILAR = "similar", "Similar products"
        BOUGHT_TOGETHER = "bought_together", "Customers also bought"

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    similar = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    rank = models.PositiveIntegerField(default=0)
    score = models.FloatField()
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "similar", "kind"], name="similarproduct_unique_pair"),
        ]
        indexes = [models.Index(fields=["product", "kind", "rank"])]
        ordering = ["product", "kind", "rank"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.rank} of product {self.product_id}: product {self.similar_id}"


class BusinessRules(models.Model):
    """The merchant's serving rules. One active row is used (the newest active one)."""

    name = models.CharField(max_length=100, default="Default rules")
    is_active = models.BooleanField(default=True)
    exclude_categories = models.ManyToManyField(Category, blank=True, related_name="+")
    exclude_out_of_stock = models.BooleanField(default=True)
    # Diversity: at most this many items of one category in a widget; 0 means no limit.
    max_per_category = models.PositiveIntegerField(default=0)
    pinned_products = models.ManyToManyField(
        Product, blank=True, related_name="+", help_text="Always shown first, in id order."
    )
    boosted_products = models.ManyToManyField(Product, blank=True, related_name="+")
    # Multiplier applied to a boosted product's score before re-ranking.
    boost_factor = models.FloatField(default=2.0)
    # A/B test: when set, half of the shoppers (deterministic hash of the user or session) see
    # this version's precomputed rows instead of the active version's.
    challenger_version = models.ForeignKey(
        ModelVersion,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        limit_choices_to={"name__startswith": "recommendations."},
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "business rules"
        verbose_name_plural = "business rules"

    def __str__(self) -> str:
        return self.name


class RecommenderVersion(ModelVersion):
    """Admin view of the registry restricted to recommendation models (no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = "recommender model version"
        permissions = [("retrain_recommenders", "Can retrain the recommender and start A/B tests")]


class PrecomputeRun(models.Model):
    """One fan-out of the per-customer precompute: chunks of customers computed by any worker,
    then one finishing step that promotes the candidate version (recommendations/services.py).

    A run is promoted at most once, and only when every chunk is done; a newer run supersedes
    an older one still running (its remaining chunks and its finish then do nothing).
    """

    class Status(models.TextChoices):
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"  # a chunk never finished: nothing promoted
        SUPERSEDED = "superseded"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    # The version whose rows the chunks write: the candidate to promote, or the active one refreshed.
    target = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    challenger = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    promote = models.BooleanField(default=False)
    # Keyword arguments for ml.model_version_promote (score of the active model on the same data).
    promote_args = models.JSONField(default=dict, blank=True)
    chunk_count = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"precompute run {self.pk} of {self.target_id} ({self.status})"


class PrecomputeChunk(models.Model):
    """The customers of one chunk of a run; `done_at` is set in the transaction writing their rows."""

    run = models.ForeignKey(PrecomputeRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    user_ids = models.JSONField(default=list)
    rows = models.PositiveIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="precomputechunk_unique_index")]
        ordering = ["run", "index"]

    def __str__(self) -> str:
        return f"chunk {self.index} of run {self.run_id}"

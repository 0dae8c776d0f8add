"""Core domain: shoppers, catalog, carts, orders, the behaviour event log, the model registry."""

from __future__ import annotations

import functools
import uuid
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac


class User(AbstractUser):
    """A shopper or a staff member. Profile fields feed analytics, targeting and recommendations."""

    class Gender(models.TextChoices):
        UNKNOWN = "", "Not given"
        FEMALE = "f", "Female"
        MALE = "m", "Male"
        OTHER = "o", "Other"

    birth_year = models.PositiveSmallIntegerField(null=True, blank=True)
    gender = models.CharField(max_length=1, choices=Gender.choices, blank=True, default="")
    country = models.CharField(max_length=64, blank=True, default="", db_index=True)
    interests = models.ManyToManyField("Category", blank=True, related_name="interested_users")
    # The customer id in an imported data set (UCI CustomerID, MovieLens user id).
    external_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    tracking_consent = models.BooleanField(default=False)
    date_erased = models.DateTimeField(null=True, blank=True)

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        # Django's HMAC of the password field, checked on every signed-in request: remembered per
        # (password hash, secret) instead of recomputed (~3% of a signed-in serving request).
        return _session_auth_hash(self.password, secret if secret is not None else settings.SECRET_KEY)

    def age_band(self, today: int | None = None) -> str:
        """Bucket used by analytics and ad targeting: '18-24', '25-34', ... or '' when unknown."""
        if not self.birth_year:
            return ""
        year = today or timezone.now().year
        return age_band_for(year - self.birth_year)


@functools.lru_cache(maxsize=4096)
def _session_auth_hash(password: str, secret: str) -> str:
    """AbstractBaseUser._get_session_auth_hash's value for this password field and secret."""
    return salted_hmac(
        "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash", password, secret=secret, algorithm="sha256"
    ).hexdigest()


AGE_BANDS = [
    (0, 17, "<18"),
    (18, 24, "18-24"),
    (25, 34, "25-34"),
    (35, 44, "35-44"),
    (45, 54, "45-54"),
    (55, 64, "55-64"),
    (65, 200, "65+"),
]


def age_band_for(age: int) -> str:
    for low, high, label in AGE_BANDS:
        if low <= age <= high:
            return label
    return ""


class Category(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("storefront:category", args=[self.slug])

    def ancestors(self) -> list[Category]:
        chain, node = [], self.parent
        while node is not None and len(chain) < 20:  # bounded: a bad cycle cannot hang a page
            chain.insert(0, node)
            node = node.parent
        return chain

    def descendant_ids(self) -> list[int]:
        ids, frontier = [self.pk], [self.pk]
        while frontier:
            frontier = list(Category.objects.filter(parent_id__in=frontier).values_list("pk", flat=True))
            ids.extend(frontier)
        return ids


class ProductQuerySet(models.QuerySet):
    def sellable(self) -> ProductQuerySet:
        """Real products a shopper may see: active and not a fee/adjustment line."""
        return self.filter(is_active=True, is_non_product=False)

    def in_stock(self) -> ProductQuerySet:
        return self.filter(stock__gt=0)


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="products")
    price = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    currency = models.CharField(max_length=3, default="GBP")
    stock = models.IntegerField(default=0)
    is_active = models.BooleanField(default=True)
    # Postage, bank charges, manual adjustments...: kept on orders, never recommended,
    # advertised or counted as products.
    is_non_product = models.BooleanField(default=False)
    image_url = models.URLField(blank=True, default="")
    # An uploaded picture and the thumbnail made from it (ecommerce.services.catalog.product_image_set);
    # the image URL above stays for imported catalogs, the lettered tile is the last fallback.
    image = models.ImageField(upload_to="products/", blank=True, default="")
    image_thumbnail = models.ImageField(upload_to="products/thumbs/", blank=True, default="", editable=False)
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ProductQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["category", "is_active"]),
            models.Index(fields=["is_active", "is_non_product"]),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.sku})"

    def get_absolute_url(self) -> str:
        return reverse("storefront:product", args=[self.pk])

    @property
    def in_stock(self) -> bool:
        return self.stock > 0

    @property
    def picture_url(self) -> str:
        """The picture to show: the uploaded image, else the catalog's image URL, else ''."""
        return self.image.url if self.image else self.image_url

    @property
    def thumbnail_url(self) -> str:
        if self.image_thumbnail:
            return self.image_thumbnail.url
        return self.picture_url


class Cart(models.Model):
    """A shopper's cart: owned by a user or, before login, by a session key."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="cart"
    )
    session_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Cart {self.pk} of user {self.user_id}" if self.user_id else f"Cart {self.pk} (guest)"

    def total(self) -> Decimal:
        return sum((item.line_total for item in self.items.select_related("product")), Decimal("0"))


class CartItem(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.CASCADE)
    quantity = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cart", "product"], name="cartitem_unique_product")]

    def __str__(self) -> str:
        return f"{self.quantity} x product {self.product_id} in cart {self.cart_id}"

    @property
    def line_total(self) -> Decimal:
        return self.product.price * self.quantity


class OrderQuerySet(models.QuerySet):
    def not_cancelled(self) -> OrderQuerySet:
        return self.exclude(status=Order.Status.CANCELLED)

    def owned_by(self, user) -> OrderQuerySet:
        return self.filter(user=user) if user and user.is_authenticated else self.none()


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending payment"
        PAID = "paid", "Paid"
        SHIPPED = "shipped", "Shipped"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"
        RETURNED = "returned", "Returned"

    # The only legal moves; ecommerce.services.orders.order_transition enforces them.
    TRANSITIONS: dict[str, set[str]] = {
        Status.PENDING: {Status.PAID, Status.CANCELLED},
        Status.PAID: {Status.SHIPPED, Status.CANCELLED},
        Status.SHIPPED: {Status.DELIVERED, Status.RETURNED},
        Status.DELIVERED: {Status.RETURNED},
        Status.CANCELLED: set(),
        Status.RETURNED: set(),
    }

    number = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    email = models.EmailField(blank=True, default="")  # guest orders are verified by number + email
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    placed_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    currency = models.CharField(max_length=3, default="GBP")
    shipping_name = models.CharField(max_length=200, blank=True, default="")
    shipping_address = models.TextField(blank=True, default="")
    country = models.CharField(max_length=64, blank=True, default="")
    tracking_number = models.CharField(max_length=64, blank=True, default="")
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # For imported cancellation invoices (UCI "C" prefix): the data set says so, not a transition.
    source = models.CharField(max_length=32, blank=True, default="shop")

    objects = OrderQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["placed_at"]),
            models.Index(fields=["user", "placed_at"]),
            models.Index(fields=["status", "placed_at"]),
        ]
        ordering = ["-placed_at"]
        # Capabilities over other customers' orders (ecommerce/roles.py); a shopper needs none for their own.
        permissions = [
            ("view_customer_orders", "Can see any customer's orders (API, chatbot)"),
            ("manage_orders", "Can cancel, return or re-address any customer's order"),
        ]

    def __str__(self) -> str:
        return f"Order {self.number}"

    def get_absolute_url(self) -> str:
        return reverse("storefront:order_detail", args=[self.number])

    def can_transition_to(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, set())

    def can_cancel(self) -> bool:
        return self.can_transition_to(self.Status.CANCELLED)

    def can_change_address(self) -> bool:
        """Only until it ships: after that the parcel is on its way to the old address."""
        return self.status in (self.Status.PENDING, self.Status.PAID)

    def total(self) -> Decimal:
        return sum((line.line_total for line in self.items.all()), Decimal("0"))


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_items")
    title = models.CharField(max_length=255)  # the title at purchase time
    # Imported data keeps negative quantities (returns within an invoice); the shop writes > 0.
    quantity = models.IntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    line_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            # Reruns of an import cannot add a line twice.
            models.UniqueConstraint(fields=["order", "line_number"], name="orderitem_unique_line"),
        ]
        indexes = [models.Index(fields=["product", "order"])]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.title}"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


class ReturnRequest(models.Model):
    """A shopper's request to return some items of an order: lines with quantities and a reason.

    Lifecycle (ecommerce.services.orders.return_request_*): requested -> approved -> received ->
    refunded, or requested/approved -> rejected. Stock comes back when the items are received.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        APPROVED = "approved", "Approved"
        RECEIVED = "received", "Received"
        REFUNDED = "refunded", "Refunded"
        REJECTED = "rejected", "Rejected"

    TRANSITIONS: dict[str, set[str]] = {
        Status.REQUESTED: {Status.APPROVED, Status.REJECTED},
        Status.APPROVED: {Status.RECEIVED, Status.REJECTED},
        Status.RECEIVED: {Status.REFUNDED},
        Status.REFUNDED: set(),
        Status.REJECTED: set(),
    }

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="return_requests")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED, db_index=True)
    reason = models.CharField(max_length=500)
    # Who asked: the shopper (or staff acting for them); null for a guest proven by email.
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    refund_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("manage_returns", "Can approve, receive, refund and reject return requests")]

    def __str__(self) -> str:
        return f"Return {self.pk} of order {self.order_id} ({self.status})"

    def can_transition_to(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, set())

    def amount(self) -> Decimal:
        return sum((line.item.unit_price * line.quantity for line in self.lines.all()), Decimal("0"))


class ReturnLine(models.Model):
    return_request = models.ForeignKey(ReturnRequest, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(OrderItem, on_delete=models.CASCADE, related_name="return_lines")
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["return_request", "item"], name="returnline_unique_item"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="returnline_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x item {self.item_id} in return {self.return_request_id}"


class Event(models.Model):
    """One behaviour event. The id is client-generated: replaying a batch stores nothing twice."""

    class Type(models.TextChoices):
        PAGE_VIEW = "page_view"
        PRODUCT_VIEW = "product_view"
        SEARCH = "search"
        ADD_TO_CART = "add_to_cart"
        REMOVE_FROM_CART = "remove_from_cart"
        CHECKOUT_START = "checkout_start"
        PURCHASE = "purchase"
        RECOMMENDATION_IMPRESSION = "recommendation_impression"
        RECOMMENDATION_CLICK = "recommendation_click"
        AD_IMPRESSION = "ad_impression"
        AD_CLICK = "ad_click"
        CHAT_MESSAGE = "chat_message"
        RATING = "rating"  # MovieLens ratings, for benchmarks

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    type = models.CharField(max_length=32, choices=Type.choices)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    anonymous_id = models.CharField(max_length=64, blank=True, default="")
    session_key = models.CharField(max_length=64, blank=True, default="")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    query = models.CharField(max_length=255, blank=True, default="")
    properties = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["type", "occurred_at"]),
            models.Index(fields=["user", "occurred_at"]),
            models.Index(fields=["product", "occurred_at"]),
            models.Index(fields=["anonymous_id", "occurred_at"]),
            models.Index(fields=["occurred_at"]),
            # The analytics rollup finds late-arriving events by the time they were received.
            models.Index(fields=["received_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.type} at {self.occurred_at:%Y-%m-%d %H:%M}"


# The column order of plain event rows: the bulk paths (ingestion, importers, demo, COPY in the
# benchmark) write tuples in this order through ecommerce.bulk.bulk_insert.
EVENT_ROW_COLUMNS = (
    "id",
    "type",
    "occurred_at",
    "received_at",
    "user_id",
    "anonymous_id",
    "session_key",
    "product_id",
    "query",
    "properties",
)


class UserAlias(models.Model):
    """What a shopper did before signing in, recorded at login (ecommerce.privacy.user_login_link)
    so that "download my data" and "delete my account" find it.

    `session`: the pre-login session key (written only with tracking consent: without it nothing
    is stored under that key). `guest_order`: the number of a guest order placed in that session
    with the account's email. Deleted with the rest at erasure.
    """

    class Kind(models.TextChoices):
        SESSION = "session"
        GUEST_ORDER = "guest_order"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="aliases")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind", "value"], name="useralias_unique")]
        verbose_name_plural = "user aliases"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} alias of user {self.user_id}"


class IngestionToken(models.Model):
    """A server-side integration's key for POST /api/events/ with user_id. Only the hash is kept."""

    name = models.CharField(max_length=100, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class AuditLogEntry(models.Model):
    """Who among the staff looked at or changed which customer's data (privacy by design)."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="audit_actions"
    )
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_subject_entries",
    )
    action = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200, blank=True, default="")
    path = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name_plural = "audit log entries"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.action} by user {self.actor_id} at {self.created_at}"


class ModelVersion(models.Model):
    """One trained artifact in the model registry (see ecommerce/ml.py)."""

    class Status(models.TextChoices):
        TRAINED = "trained"
        ACTIVE = "active"
        RETIRED = "retired"
        FAILED = "failed"

    name = models.CharField(max_length=100)  # "recommendations.hybrid", "support.intents", ...
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRAINED)
    artifact_path = models.CharField(max_length=500, blank=True, default="")
    sha256 = models.CharField(max_length=64, blank=True, default="")
    params = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    # The metric that decides promotion, and whether higher is better.
    primary_metric = models.CharField(max_length=64, blank=True, default="")
    higher_is_better = models.BooleanField(default=True)
    data_ref = models.JSONField(default=dict, blank=True)  # split / window / row counts
    library_versions = models.JSONField(default=dict, blank=True)
    git_sha = models.CharField(max_length=40, blank=True, default="")
    notes = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="modelversion_unique_version"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(status="active"), name="modelversion_one_active_per_name"
            ),
        ]
        ordering = ["name", "-version"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.status})"

    @property
    def primary_score(self) -> float | None:
        value = self.metrics.get(self.primary_metric)
        return float(value) if value is not None else None


class ModelArtifact(models.Model):
    """The bytes of a ModelVersion's artifact, stored next to its registry row (ecommerce/ml.py).

    Every web and worker host loads models from here (and keeps a local copy under
    ML_ARTIFACT_ROOT, checked against the row's sha256), so no host needs a shared filesystem.
    """

    version = models.OneToOneField(ModelVersion, primary_key=True, on_delete=models.CASCADE, related_name="blob")
    data = models.BinaryField()
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"artifact of {self.version_id} ({self.size} bytes)"


class TaskDelivery(models.Model):
    """How often a broker handed one Celery task id to a worker (ecommerce.services.task_deliveries).

    A row lives from the first start of a task id until a week after it finished. It makes
    redelivery safe: a task killed mid-run is re-run, a copy delivered again after it finished
    (or while it still runs) is skipped, and one that killed its worker `max_deliveries` times
    is given up instead of looping forever (the out-of-memory loop of reject_on_worker_lost).
    """

    task_id = models.CharField(max_length=255, unique=True)
    task_name = models.CharField(max_length=200)
    deliveries = models.PositiveIntegerField(default=0)
    first_started_at = models.DateTimeField(default=timezone.now)
    last_started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True, db_index=True)
    outcome = models.CharField(max_length=16, blank=True, default="")  # done / gave_up

    def __str__(self) -> str:
        return f"{self.task_name} {self.task_id} x{self.deliveries}"


class OutboxMessage(models.Model):
    """A Celery task waiting for the broker (transactional outbox, ecommerce/outbox.py).

    Written in the same transaction as the change that needs the task, so the task is never lost:
    the request publishes it after commit and deletes the row; when the broker is down the row
    stays and `drain_outbox` (a beat task and a management command) publishes it later.
    Arguments are ids and small JSON primitives only, like every task's.
    """

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True)  # exception class name, never data

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.task_name} #{self.pk}"

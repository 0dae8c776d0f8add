from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import models
from django.db.models import Count, DecimalField, ExpressionWrapper, F, OuterRef, Q, Subquery, Sum
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.timezone import localtime

from .errors import DomainError
from .models import (
    AuditLogEntry,
    Category,
    Event,
    IngestionToken,
    ModelVersion,
    Order,
    OrderItem,
    Product,
    ReturnLine,
    ReturnRequest,
    TaskDelivery,
    User,
)
from .money import format_money
from .privacy import audit_record
from .roles import MANAGE_ORDERS, user_can
from .services import catalog as catalog_services
from .services import orders as order_services


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "country", "is_staff", "date_joined")
    list_filter = ("is_staff", "is_active", "country", "gender")
    fieldsets = BaseUserAdmin.fieldsets + (
        (
            "Profile",
            {
                "fields": (
                    "birth_year",
                    "gender",
                    "country",
                    "interests",
                    "external_id",
                    "tracking_consent",
                    "date_erased",
                )
            },
        ),
    )
    filter_horizontal = ("groups", "user_permissions", "interests")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        subject = User.objects.filter(pk=object_id).first()
        if subject is not None:
            audit_record(
                actor=request.user,
                action="admin.view_customer",
                subject=subject,
                object_repr=f"user {subject.pk}",
                path=request.path,
            )
        return super().change_view(request, object_id, form_url, extra_context)


class CatalogueChangeMixin:
    """Admin edits of what the pages show retire the cached storefront pages (pagecache.py)."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        catalog_services.catalogue_changed()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        catalog_services.catalogue_changed()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        catalog_services.catalogue_changed()


@admin.register(Category)
class CategoryAdmin(CatalogueChangeMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "parent")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


class ProductAdminForm(forms.ModelForm):
    """The picture is uploaded through a plain file field and stored by the catalog service (which
    checks it with Pillow and makes the thumbnail), never saved straight into the model field."""

    upload = forms.FileField(
        label="Upload image",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"}),
        help_text="JPEG, PNG, WebP or GIF, at most 5 MB; a thumbnail is made for lists and the shop.",
    )
    remove_image = forms.BooleanField(label="Remove the uploaded image", required=False)

    class Meta:
        model = Product
        # Every editable field but `image`, which only the upload field (through the catalog
        # service that validates it and makes the thumbnail) may set.
        fields = (
            "sku",
            "title",
            "description",
            "category",
            "price",
            "currency",
            "stock",
            "is_active",
            "is_non_product",
            "image_url",
            "attributes",
            "created_at",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit = settings.PRODUCT_IMAGE_MAX_BYTES / (1024 * 1024)
        self.fields[
            "upload"
        ].help_text = f"JPEG, PNG, WebP or GIF, at most {limit:g} MB; a thumbnail is made for lists and the shop."

    def clean_upload(self):
        upload = self.cleaned_data.get("upload")
        if upload:
            try:
                catalog_services.product_image_check(upload)
            except DomainError as error:
                raise forms.ValidationError(str(error)) from None
        return upload


@admin.register(Product)
class ProductAdmin(CatalogueChangeMixin, admin.ModelAdmin):
    form = ProductAdminForm
    list_display = (
        "thumbnail",
        "sku",
        "title",
        "category",
        "price",
        "price_display",
        "stock",
        "is_active",
        "is_non_product",
    )
    list_display_links = ("sku",)
    list_filter = ("is_active", "is_non_product", "category")
    search_fields = ("sku", "title")
    list_editable = ("price", "stock", "is_active")
    list_select_related = ("category",)
    readonly_fields = ("image_preview",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "sku",
                    "title",
                    "description",
                    "category",
                    "price",
                    "currency",
                    "stock",
                    "is_active",
                    "is_non_product",
                )
            },
        ),
        ("Picture", {"fields": ("image_preview", "upload", "remove_image", "image_url")}),
        ("More", {"fields": ("attributes", "created_at"), "classes": ("collapse",)}),
    )

    class Media:
        css = {"all": ("css/backoffice-admin.css",)}

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.URLField):
            kwargs["assume_scheme"] = "https"
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(description="Picture")
    def thumbnail(self, obj: Product):
        url = obj.thumbnail_url
        if not url:
            return "-"
        return format_html('<img class="admin-thumb" src="{}" alt="" loading="lazy">', url)

    @admin.display(description="Price shown", ordering="price")
    def price_display(self, obj: Product) -> str:
        return format_money(obj.price, obj.currency)

    @admin.display(description="Current picture")
    def image_preview(self, obj: Product):
        if obj is None or not obj.pk or not obj.picture_url:
            return "No picture yet: the shop shows a lettered tile."
        return format_html(
            '<a href="{}"><img class="admin-thumb-large" src="{}" alt="{}"></a>',
            obj.picture_url,
            obj.thumbnail_url,
            obj.title,
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        upload = form.cleaned_data.get("upload")
        if upload:
            catalog_services.product_image_set(product=obj, upload=upload, actor=request.user)
        elif form.cleaned_data.get("remove_image") and obj.image:
            catalog_services.product_image_clear(product=obj, actor=request.user)


def _order_locked(order: Order | None) -> bool:
    """Only a pending order (nothing paid yet) may have its lines, customer or currency edited:
    after payment they are what the customer paid for (accounting), and status, tracking and
    refunds move only through the order services (the actions below)."""
    return order is not None and order.pk is not None and order.status != Order.Status.PENDING


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    raw_id_fields = ("product",)
    fields = ("line_number", "product", "title", "quantity", "unit_price", "line_total_display")

    @admin.display(description="Line total")
    def line_total_display(self, obj: OrderItem) -> str:
        if obj is None or obj.pk is None or obj.unit_price is None or obj.quantity is None:
            return "-"
        return format_money(obj.line_total, obj.order.currency)

    @admin.display(description="Unit price")
    def unit_price_display(self, obj: OrderItem) -> str:
        if obj is None or obj.pk is None:
            return "-"
        return format_money(obj.unit_price, obj.order.currency)

    def get_fields(self, request, obj=None):
        if _order_locked(obj):
            return ("line_number", "product", "title", "quantity", "unit_price_display", "line_total_display")
        return self.fields

    def get_readonly_fields(self, request, obj=None):
        if _order_locked(obj):
            return self.get_fields(request, obj)
        return ("line_total_display",)

    def has_add_permission(self, request, obj=None) -> bool:
        return not _order_locked(obj) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return not _order_locked(obj) and super().has_delete_permission(request, obj)


ORDER_ALWAYS_READONLY = (
    "number",
    "status",
    "total_display",
    "placed_at",
    "source",
    "tracking_number",
    "shipped_at",
    "delivered_at",
    "history",
)
ORDER_LOCKED_AFTER_PAYMENT = ("user", "email", "currency")
# The address may change until the parcel leaves (the same rule as order_change_address).
ORDER_LOCKED_AFTER_SHIPPING = ("shipping_name", "shipping_address", "country")


def _order_action(service, label: str, done_text: str):
    """An admin action running one order service per selected order; the service checks
    ecommerce.manage_orders, a refusal becomes a warning for that order only."""

    def action(modeladmin, request, queryset):
        done = 0
        for order_id, number in queryset.values_list("pk", "number"):
            try:
                service(order_id=order_id, actor=request.user)
                done += 1
            except DomainError as error:
                modeladmin.message_user(request, f"Order {number}: {error}", messages.WARNING)
        if done:
            modeladmin.message_user(request, f"{done_text}: {done} order(s).", messages.SUCCESS)

    action.__name__ = f"order_{label.lower()}"
    return admin.action(description=f"{label} selected orders", permissions=["manage"])(action)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("number", "user", "status", "total_display", "placed_at", "country", "tracking_number")
    list_filter = ("status", "source")
    search_fields = ("number", "email", "user__username", "tracking_number")
    date_hierarchy = "placed_at"
    raw_id_fields = ("user",)
    inlines = [OrderItemInline]
    fieldsets = (
        (None, {"fields": ("number", "status", "total_display", "user", "email", "currency", "placed_at", "source")}),
        (
            "Shipping",
            {
                "fields": (
                    "shipping_name",
                    "shipping_address",
                    "country",
                    "tracking_number",
                    "shipped_at",
                    "delivered_at",
                )
            },
        ),
        ("History", {"fields": ("history",)}),
    )
    actions = [
        "mark_shipped",
        _order_action(order_services.order_refund, "Refund", "Cancelled and refunded"),
        _order_action(order_services.order_cancel_for_merchant, "Cancel", "Cancelled"),
    ]

    class Media:
        css = {"all": ("css/backoffice-admin.css",)}

    def get_queryset(self, request):
        line_value = ExpressionWrapper(
            F("items__quantity") * F("items__unit_price"), output_field=DecimalField(max_digits=18, decimal_places=2)
        )
        return super().get_queryset(request).select_related("user").annotate(total_amount=Sum(line_value))

    def get_readonly_fields(self, request, obj=None):
        if obj is None:  # the add form: a number is needed, the rest comes from the services
            return tuple(f for f in ORDER_ALWAYS_READONLY if f != "number")
        if obj.status not in (Order.Status.PENDING, Order.Status.PAID):
            return (*ORDER_ALWAYS_READONLY, *ORDER_LOCKED_AFTER_PAYMENT, *ORDER_LOCKED_AFTER_SHIPPING)
        if _order_locked(obj):
            return (*ORDER_ALWAYS_READONLY, *ORDER_LOCKED_AFTER_PAYMENT)
        return ORDER_ALWAYS_READONLY

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # orders are accounting records: cancel or refund instead
        return actions

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # accounting records: cancel or refund, never delete

    def has_manage_permission(self, request) -> bool:
        return user_can(request.user, MANAGE_ORDERS)

    @admin.display(description="Total", ordering="total_amount")
    def total_display(self, obj: Order) -> str:
        if obj is None or obj.pk is None:
            return "-"
        amount = getattr(obj, "total_amount", None)
        return format_money(obj.total() if amount is None else amount, obj.currency)

    @admin.display(description="Status history")
    def history(self, obj: Order):
        """What happened to the order, from its own timestamps and its return requests."""
        if obj is None or obj.pk is None:
            return "-"
        steps = [(obj.placed_at, "Placed")]
        if obj.shipped_at:
            steps.append((obj.shipped_at, f"Shipped, tracking {obj.tracking_number or '-'}"))
        if obj.delivered_at:
            steps.append((obj.delivered_at, "Delivered"))
        for ret in obj.return_requests.order_by("created_at"):
            text = f"Return request {ret.pk} ({ret.get_status_display().lower()}): {ret.reason}"
            if ret.refund_amount is not None:
                text += f"; refunded {format_money(ret.refund_amount, obj.currency)}"
            steps.append((ret.created_at, text))
            if ret.refunded_at and ret.refunded_at != ret.created_at:
                steps.append((ret.refunded_at, f"Refund of return request {ret.pk}"))
        steps.sort(key=lambda step: step[0])
        steps.append((None, f"Now: {obj.get_status_display().lower()}"))
        items = ((f"{localtime(when):%Y-%m-%d %H:%M}: " if when else "", text) for when, text in steps)
        return format_html('<ul class="order-history">{}</ul>', format_html_join("", "<li>{}{}</li>", items))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = Order.objects.filter(pk=object_id).select_related("user").first()
        if order is not None and order.user_id:
            audit_record(
                actor=request.user,
                action="admin.view_order",
                subject=order.user,
                object_repr=f"order {order.number}",
                path=request.path,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Mark selected orders shipped (asks for tracking numbers)", permissions=["manage"])
    def mark_shipped(self, request, queryset):
        """An intermediate page: one tracking number per order, then the shipping service per order."""
        orders = list(queryset.order_by("pk"))
        errors: dict[int, str] = {}
        if request.POST.get("apply"):
            shipped = 0
            for order in orders:
                tracking = request.POST.get(f"tracking_{order.pk}", "")
                try:
                    order_services.order_mark_shipped(order_id=order.pk, actor=request.user, tracking_number=tracking)
                    shipped += 1
                except DomainError as error:
                    errors[order.pk] = str(error)
            if shipped:
                self.message_user(request, f"Marked shipped: {shipped} order(s).", messages.SUCCESS)
            if not errors:
                return None  # back to the changelist
            orders = [order for order in orders if order.pk in errors]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Mark orders shipped",
            "rows": [
                {
                    "order": o,
                    "error": errors.get(o.pk, ""),
                    "value": request.POST.get(f"tracking_{o.pk}", ""),
                    "can_ship": o.can_transition_to(Order.Status.SHIPPED),
                }
                for o in orders
            ],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/ecommerce/order/mark_shipped.html", context)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """The event log, newest first, searchable by person, product and query, with a per-person
    timeline (PostHog's persons view). Search matches whole values on indexed columns only:
    a substring scan over millions of events would take the admin down."""

    list_display = ("occurred_at", "type", "person", "product", "query")
    list_filter = ("type",)
    list_select_related = ("user", "product")
    date_hierarchy = "occurred_at"
    ordering = ("-occurred_at",)
    raw_id_fields = ("user", "product")
    show_full_result_count = False  # COUNT(*) over millions of events is slow
    search_fields = ("query",)  # shows the search box; the matching itself is event_log_search
    search_help_text = (
        "user:<id or username>  anon:<anonymous id>  product:<id or SKU>  q:<exact search text>; "
        "a bare word matches a username, anonymous id, SKU or exact search text."
    )

    def get_search_results(self, request, queryset, search_term):
        return event_log_search(queryset, search_term), False

    @admin.display(description="Person")
    def person(self, obj: Event):
        if obj.user_id:
            url = reverse("admin:ecommerce_event_person", args=["user", obj.user_id])
            return format_html('<a href="{}">{}</a>', url, obj.user.username)
        if obj.anonymous_id:
            url = reverse("admin:ecommerce_event_person", args=["anon", obj.anonymous_id])
            return format_html('<a href="{}">anonymous {}</a>', url, obj.anonymous_id[:12])
        return "-"

    def get_urls(self):
        timeline = self.admin_site.admin_view(self.person_timeline_view)
        return [
            path("person/<str:kind>/<str:value>/", timeline, name="ecommerce_event_person"),
            *super().get_urls(),
        ]

    def person_timeline_view(self, request, kind: str, value: str):
        """One person's events newest first, with their orders: who they are and what they did."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if kind not in ("user", "anon"):
            raise Http404("Unknown kind of person.")
        subject = None
        if kind == "user":
            subject = User.objects.filter(pk=value).first() if value.isdigit() else None
            if subject is None:
                raise Http404("No such user.")
            events = Event.objects.filter(user=subject)
            orders = Order.objects.filter(user=subject).order_by("-placed_at")[:50]
            audit_record(
                actor=request.user,
                action="admin.view_timeline",
                subject=subject,
                object_repr=f"user {subject.pk}",
                path=request.path,
            )
        else:
            events = Event.objects.filter(anonymous_id=value)
            orders = Order.objects.none()
        page = Paginator(events.select_related("product").order_by("-occurred_at"), 200).get_page(
            request.GET.get("page")
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Timeline of {subject.username if subject else 'anonymous ' + value[:12]}",
            "subject": subject,
            "anonymous_id": value if kind == "anon" else "",
            "page": page,
            "orders": orders,
            "type_counts": events.order_by().values("type").annotate(n=Count("id")).order_by("-n"),
        }
        return TemplateResponse(request, "admin/ecommerce/event/person_timeline.html", context)


def event_log_search(queryset, term: str):
    """Whole-value search over the indexed columns of the event log (see EventAdmin)."""
    term = term.strip()
    if not term:
        return queryset
    prefix, _, value = term.partition(":")
    value = value.strip()
    if value and prefix in ("user", "anon", "product", "q"):
        if prefix == "user":
            return queryset.filter(user_id=int(value)) if value.isdigit() else queryset.filter(user__username=value)
        if prefix == "anon":
            return queryset.filter(anonymous_id=value)
        if prefix == "product":
            if value.isdigit():
                return queryset.filter(product_id=int(value))
            return queryset.filter(product__sku=value)
        return queryset.filter(type=Event.Type.SEARCH, query__iexact=value)
    return queryset.filter(
        Q(user__username=term)
        | Q(anonymous_id=term)
        | Q(product__sku=term)
        | Q(type=Event.Type.SEARCH, query__iexact=term)
    )


@admin.register(IngestionToken)
class IngestionTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "created_at")
    readonly_fields = ("key_hash",)


def _figure(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _key_value_table(data: dict, compare: dict | None = None):
    """A dict as a small table; with `compare`, a column of the replaced version's figures."""
    if not data:
        return "-"
    rows = []
    for key in sorted(data):
        before = "" if compare is None else _figure(compare.get(key, "-"))
        rows.append(
            format_html(
                "<tr><th>{}</th><td>{}</td>{}</tr>",
                key,
                _figure(data[key]),
                format_html("<td>{}</td>", before) if compare is not None else "",
            )
        )
    header = (
        mark_safe("<tr><th></th><th>this version</th><th>replaced version</th></tr>") if compare is not None else ""
    )
    return format_html(
        '<table class="model-figures">{}{}</table>', header, format_html_join("", "{}", ((r,) for r in rows))
    )


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    """Every trained model with its figures, and how it compares with the version it replaced."""

    list_display = (
        "name",
        "version",
        "status",
        "primary_metric",
        "score",
        "change_vs_replaced",
        "created_at",
        "promoted_at",
    )
    list_filter = ("name", "status")
    exclude = ("metrics", "params")  # shown as tables below; a registry row is never hand-edited
    readonly_fields = [
        "score",
        "change_vs_replaced",
        "metrics_table",
        "params_table",
        *[f.name for f in ModelVersion._meta.fields if f.name not in ("metrics", "params")],
    ]

    def has_add_permission(self, request) -> bool:
        return False  # rows are written by training (ecommerce/ml.py), never by hand

    def get_queryset(self, request):
        # The version this one replaced: the same name's latest promotion before this one's.
        replaced = ModelVersion.objects.filter(
            name=OuterRef("name"),
            promoted_at__isnull=False,
            promoted_at__lt=OuterRef("promoted_at"),
        ).order_by("-promoted_at")
        return (
            super()
            .get_queryset(request)
            .annotate(
                replaced_metrics=Subquery(replaced.values("metrics")[:1]),
                replaced_version=Subquery(replaced.values("version")[:1]),
            )
        )

    @admin.display(description="Score")
    def score(self, obj: ModelVersion) -> str:
        value = obj.primary_score
        return "-" if value is None else f"{value:.4f}"

    @admin.display(description="vs replaced")
    def change_vs_replaced(self, obj: ModelVersion) -> str:
        before = (getattr(obj, "replaced_metrics", None) or {}).get(obj.primary_metric)
        now = obj.primary_score
        if before is None or now is None:
            return "-"
        delta = now - float(before)
        if abs(delta) < 0.00005:  # equal at the 4 decimals shown
            return f"same as v{obj.replaced_version}"
        better = delta > 0 if obj.higher_is_better else delta < 0
        return f"{delta:+.4f} vs v{obj.replaced_version} ({'better' if better else 'worse'})"

    @admin.display(description="Metrics")
    def metrics_table(self, obj: ModelVersion):
        return _key_value_table(obj.metrics, getattr(obj, "replaced_metrics", None))

    @admin.display(description="Parameters")
    def params_table(self, obj: ModelVersion):
        return _key_value_table(obj.params)


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor", "action", "subject", "object_repr")
    list_filter = ("action",)
    readonly_fields = [f.name for f in AuditLogEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReturnLineInline(admin.TabularInline):
    model = ReturnLine
    extra = 0
    fields = ("item", "quantity")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


def _return_action(service, label: str):
    """An admin action that moves each selected return through the one service (permission there)."""
    from django.contrib import messages

    from .errors import DomainError

    def action(modeladmin, request, queryset):
        done = 0
        for return_id in queryset.values_list("pk", flat=True):
            try:
                service(return_id=return_id, actor=request.user)
                done += 1
            except DomainError as error:
                modeladmin.message_user(request, f"Return {return_id}: {error}", messages.WARNING)
        if done:
            modeladmin.message_user(request, f"{label}: {done} return request(s).", messages.SUCCESS)

    action.__name__ = f"return_{label.lower()}"
    action.short_description = f"{label} selected return requests"
    return action


@admin.register(ReturnRequest)
class ReturnRequestAdmin(admin.ModelAdmin):
    list_display = ("id", "order", "status", "reason", "created_at", "refund_display")
    list_filter = ("status",)
    search_fields = ("order__number",)
    raw_id_fields = ("order", "requested_by")
    # Status changes only through the actions (the service), never a free edit.
    readonly_fields = (
        "order",
        "status",
        "requested_by",
        "created_at",
        "approved_at",
        "received_at",
        "refunded_at",
        "refund_display",
    )
    exclude = ("refund_amount",)
    list_select_related = ("order",)
    inlines = [ReturnLineInline]
    actions = [
        _return_action(order_services.return_request_approve, "Approve"),
        _return_action(order_services.return_request_receive, "Receive"),
        _return_action(order_services.return_request_refund, "Refund"),
        _return_action(order_services.return_request_reject, "Reject"),
    ]

    @admin.display(description="Refunded", ordering="refund_amount")
    def refund_display(self, obj: ReturnRequest) -> str:
        return "-" if obj.refund_amount is None else format_money(obj.refund_amount, obj.order.currency)

    def has_add_permission(self, request) -> bool:
        return False  # shoppers ask (order page, chat, API); the merchant only moves requests


@admin.register(TaskDelivery)
class TaskDeliveryAdmin(admin.ModelAdmin):
    """Read-only: which Celery task ids were redelivered, and which were given up
    (README "Celery workers and the broker")."""

    list_display = ("task_name", "task_id", "deliveries", "outcome", "first_started_at", "finished_at")
    list_filter = ("outcome", "task_name")
    search_fields = ("task_id",)
    readonly_fields = [f.name for f in TaskDelivery._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

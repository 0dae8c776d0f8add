from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

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
from .privacy import audit_record
from .services import orders as order_services


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "country", "is_staff", "date_joined")
    list_filter = ("is_staff", "is_active", "country", "gender")
    fieldsets = BaseUserAdmin.fieldsets + (
        ("Profile", {"fields": ("birth_year", "gender", "country", "interests", "external_id",
                                "tracking_consent", "date_erased")}),
    )
    filter_horizontal = ("groups", "user_permissions", "interests")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        subject = User.objects.filter(pk=object_id).first()
        if subject is not None:
            audit_record(actor=request.user, action="admin.view_customer", subject=subject,
                         object_repr=f"user {subject.pk}", path=request.path)
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "parent")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("sku", "title", "category", "price", "stock", "is_active", "is_non_product")
    list_filter = ("is_active", "is_non_product", "category")
    search_fields = ("sku", "title")
    list_editable = ("price", "stock", "is_active")
    list_select_related = ("category",)


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    raw_id_fields = ("product",)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("number", "user", "status", "placed_at", "country")
    list_filter = ("status", "source")
    search_fields = ("number", "email", "user__username")
    date_hierarchy = "placed_at"
    raw_id_fields = ("user",)
    inlines = [OrderItemInline]
    # Status moves only through the lifecycle service (admin actions), never a free edit.
    readonly_fields = ("status",)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = Order.objects.filter(pk=object_id).select_related("user").first()
        if order is not None and order.user_id:
            audit_record(actor=request.user, action="admin.view_order", subject=order.user,
                         object_repr=f"order {order.number}", path=request.path)
        return super().change_view(request, object_id, form_url, extra_context)


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
            audit_record(actor=request.user, action="admin.view_timeline", subject=subject,
                         object_repr=f"user {subject.pk}", path=request.path)
        else:
            events = Event.objects.filter(anonymous_id=value)
            orders = Order.objects.none()
        page = Paginator(events.select_related("product").order_by("-occurred_at"), 200).get_page(
            request.GET.get("page"))
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
        Q(user__username=term) | Q(anonymous_id=term) | Q(product__sku=term)
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
        rows.append(format_html("<tr><th>{}</th><td>{}</td>{}</tr>", key, _figure(data[key]),
                                format_html("<td>{}</td>", before) if compare is not None else ""))
    header = mark_safe("<tr><th></th><th>this version</th><th>replaced version</th></tr>") if compare is not None else ""
    return format_html('<table class="model-figures">{}{}</table>', header, format_html_join("", "{}", ((r,) for r in rows)))


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    """Every trained model with its figures, and how it compares with the version it replaced."""

    list_display = ("name", "version", "status", "primary_metric", "score", "change_vs_replaced",
                    "created_at", "promoted_at")
    list_filter = ("name", "status")
    exclude = ("metrics", "params")  # shown as tables below; a registry row is never hand-edited
    readonly_fields = ["score", "change_vs_replaced", "metrics_table", "params_table",
                       *[f.name for f in ModelVersion._meta.fields if f.name not in ("metrics", "params")]]

    def has_add_permission(self, request) -> bool:
        return False  # rows are written by training (ecommerce/ml.py), never by hand

    def get_queryset(self, request):
        # The version this one replaced: the same name's latest promotion before this one's.
        replaced = ModelVersion.objects.filter(
            name=OuterRef("name"), promoted_at__isnull=False, promoted_at__lt=OuterRef("promoted_at"),
        ).order_by("-promoted_at")
        return super().get_queryset(request).annotate(
            replaced_metrics=Subquery(replaced.values("metrics")[:1]),
            replaced_version=Subquery(replaced.values("version")[:1]),
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
    list_display = ("id", "order", "status", "reason", "created_at", "refund_amount")
    list_filter = ("status",)
    search_fields = ("order__number",)
    raw_id_fields = ("order", "requested_by")
    # Status changes only through the actions (the service), never a free edit.
    readonly_fields = ("order", "status", "requested_by", "created_at", "approved_at", "received_at",
                       "refunded_at", "refund_amount")
    inlines = [ReturnLineInline]
    actions = [
        _return_action(order_services.return_request_approve, "Approve"),
        _return_action(order_services.return_request_receive, "Receive"),
        _return_action(order_services.return_request_refund, "Refund"),
        _return_action(order_services.return_request_reject, "Reject"),
    ]

    def has_add_permission(self, request) -> bool:
        return False  # shoppers ask (order page, chat, API); the merchant only moves requests
@admin.register(TaskDelivery)
class TaskDeliveryAdmin(admin.ModelAdmin):
    """Read-only: which Celery task ids were redelivered, and which were given up (README "Celery workers and the broker")."""

    list_display = ("task_name", "task_id", "deliveries", "outcome", "first_started_at", "finished_at")
    list_filter = ("outcome", "task_name")
    search_fields = ("task_id",)
    readonly_fields = [f.name for f in TaskDelivery._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

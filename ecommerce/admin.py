from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

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
    list_display = ("type", "occurred_at", "user", "product", "anonymous_id")
    list_filter = ("type",)
    date_hierarchy = "occurred_at"
    raw_id_fields = ("user", "product")
    show_full_result_count = False  # COUNT(*) over millions of events is slow


@admin.register(IngestionToken)
class IngestionTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "created_at")
    readonly_fields = ("key_hash",)


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "status", "primary_metric", "created_at", "promoted_at")
    list_filter = ("name", "status")
    readonly_fields = [f.name for f in ModelVersion._meta.fields]


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

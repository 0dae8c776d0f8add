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
    TaskDelivery,
    User,
)
from .privacy import audit_record


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


@admin.register(TaskDelivery)
class TaskDeliveryAdmin(admin.ModelAdmin):
    """Read-only: which Celery task ids were redelivered, and which were given up (docs/operations-celery.md)."""

    list_display = ("task_name", "task_id", "deliveries", "outcome", "first_started_at", "finished_at")
    list_filter = ("outcome", "task_name")
    search_fields = ("task_id",)
    readonly_fields = [f.name for f in TaskDelivery._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

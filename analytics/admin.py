from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from ecommerce.roles import VIEW_ANALYTICS, user_can

from .models import Dashboard, Segment


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):
    """The admin index entry for the analytics dashboard (a page of its own, not a table)."""

    def changelist_view(self, request: HttpRequest, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(reverse("analytics:dashboard"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return user_can(request.user, VIEW_ANALYTICS)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return user_can(request.user, VIEW_ANALYTICS)


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("key", "name", "kind", "size", "updated_at")
    list_filter = ("kind",)
    search_fields = ("key", "name")
    readonly_fields = ("stats", "created_at", "updated_at")

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).annotate(size=Count("memberships"))

    @admin.display(ordering="size")
    def size(self, obj: Segment) -> int:
        return obj.size

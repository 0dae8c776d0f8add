"""Merchant admin: model versions with offline metrics and online CTR, which one serves, an A/B
test, a "retrain now" action, a preview of any customer's recommendations with reasons, and
the business rules."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html

from ecommerce.models import User
from ecommerce.privacy import audit_record
from ecommerce.roles import RETRAIN_RECOMMENDERS, VIEW_CUSTOMER_RECOMMENDATIONS, user_can

from .conf import ACTIVE_MODEL_NAME
from .models import BusinessRules, RecommenderVersion, SimilarProduct, UserRecommendation
from .selectors import (
    buy_it_again_for,
    online_ctr_by_version,
    recommendations_for,
    recommendations_generation_bump,
)


def _enqueue_retrain() -> None:
    from ecommerce.outbox import task_enqueue

    from .tasks import retrain_models_task

    task_enqueue(task=retrain_models_task)


@admin.register(BusinessRules)
class BusinessRulesAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "exclude_out_of_stock", "max_per_category", "challenger_version", "updated_at")
    filter_horizontal = ("exclude_categories",)
    autocomplete_fields = ("pinned_products", "boosted_products")
    fieldsets = (
        (None, {"fields": ("name", "is_active")}),
        ("Filters", {"fields": ("exclude_out_of_stock", "exclude_categories")}),
        ("Diversity", {"fields": ("max_per_category",)}),
        ("Merchandising", {"fields": ("pinned_products", "boosted_products", "boost_factor")}),
        (
            "A/B test",
            {
                "fields": ("challenger_version",),
                "description": "Half of the shoppers (stable per shopper) see this version's "
                "precomputed rows; compare CTR per version in the model list.",
            },
        ),
    )

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:  # type: ignore[no-untyped-def]
        super().save_related(request, form, formsets, change)
        recommendations_generation_bump()  # cached answers must follow the new rules

    def delete_model(self, request: HttpRequest, obj: BusinessRules) -> None:
        super().delete_model(request, obj)
        recommendations_generation_bump()


@admin.register(RecommenderVersion)
class RecommenderVersionAdmin(admin.ModelAdmin):
    # No filter sidebar: the metric and CTR columns need the width, and there are few versions.
    list_display = (
        "name",
        "version",
        "status",
        "ndcg",
        "recall",
        "hit_rate",
        "coverage",
        "online_impressions",
        "online_clicks",
        "online_ctr",
    )
    readonly_fields = [f.name for f in RecommenderVersion._meta.fields]
    actions = ["retrain_now", "start_ab_test"]
    change_list_template = "admin/recommendations/recommenderversion/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[RecommenderVersion]:
        return super().get_queryset(request).filter(name__startswith="recommendations.")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: RecommenderVersion | None = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        self._ctr = online_ctr_by_version()
        # Only the buttons the user's role may use (the views check again).
        extra = {
            "preview_url": reverse("admin:recommendations_preview")
            if user_can(request.user, VIEW_CUSTOMER_RECOMMENDATIONS)
            else "",
            "retrain_url": reverse("admin:recommendations_retrain") if self.has_retrain_permission(request) else "",
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra)

    def _metric(self, obj: RecommenderVersion, key: str) -> str:
        value = obj.metrics.get(key)
        return f"{value:.4f}" if isinstance(value, int | float) else "–"

    @admin.display(description="NDCG@10")
    def ndcg(self, obj: RecommenderVersion) -> str:
        return self._metric(obj, "ndcg@10")

    @admin.display(description="P@10")
    def precision(self, obj: RecommenderVersion) -> str:
        return self._metric(obj, "precision@10")

    @admin.display(description="R@10")
    def recall(self, obj: RecommenderVersion) -> str:
        return self._metric(obj, "recall@10")

    @admin.display(description="Hit@10")
    def hit_rate(self, obj: RecommenderVersion) -> str:
        return self._metric(obj, "hit_rate@10")

    @admin.display(description="Coverage")
    def coverage(self, obj: RecommenderVersion) -> str:
        return self._metric(obj, "coverage")

    def _online(self, obj: RecommenderVersion) -> dict:
        if obj.name != ACTIVE_MODEL_NAME:
            return {}
        return getattr(self, "_ctr", {}).get(obj.version, {})

    @admin.display(description="Impressions")
    def online_impressions(self, obj: RecommenderVersion) -> int:
        return int(self._online(obj).get("impressions", 0))

    @admin.display(description="Clicks")
    def online_clicks(self, obj: RecommenderVersion) -> int:
        return int(self._online(obj).get("clicks", 0))

    @admin.display(description="CTR")
    def online_ctr(self, obj: RecommenderVersion) -> str:
        data = self._online(obj)
        return f"{data['ctr']:.2%}" if data.get("impressions") else "–"

    def has_retrain_permission(self, request: HttpRequest) -> bool:
        return user_can(request.user, RETRAIN_RECOMMENDERS)

    @admin.action(description="Retrain now (train, evaluate, promote, precompute)", permissions=["retrain"])
    def retrain_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        _enqueue_retrain()
        self.message_user(request, "Retraining started in the background.", messages.SUCCESS)

    @admin.action(description="Start an A/B test with the selected version as challenger", permissions=["retrain"])
    def start_ab_test(self, request: HttpRequest, queryset: QuerySet) -> None:
        chosen = list(queryset.filter(name=ACTIVE_MODEL_NAME)[:2])
        if len(chosen) != 1:
            self.message_user(request, f"Select exactly one {ACTIVE_MODEL_NAME} version.", messages.ERROR)
            return
        rules = BusinessRules.objects.filter(is_active=True).order_by("-updated_at").first()
        if rules is None:
            rules = BusinessRules.objects.create(name="Default rules")
        rules.challenger_version = chosen[0]
        rules.save(update_fields=["challenger_version", "updated_at"])
        recommendations_generation_bump()
        _enqueue_retrain()  # precomputes the challenger's rows too
        self.message_user(request, f"A/B test started: v{chosen[0].version} serves half of the shoppers.")

    def get_urls(self):  # type: ignore[no-untyped-def]
        custom = [
            path("preview/", self.admin_site.admin_view(self.preview_view), name="recommendations_preview"),
            path("retrain/", self.admin_site.admin_view(self.retrain_view), name="recommendations_retrain"),
        ]
        return custom + super().get_urls()

    def retrain_view(self, request: HttpRequest) -> HttpResponse:
        from django.http import HttpResponseNotAllowed, HttpResponseRedirect

        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_retrain_permission(request):
            raise PermissionDenied
        _enqueue_retrain()
        self.message_user(request, "Retraining started in the background.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:recommendations_recommenderversion_changelist"))

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """A customer's recommendations as the shop would show them, with the reason for each."""
        if not user_can(request.user, VIEW_CUSTOMER_RECOMMENDATIONS):
            raise PermissionDenied
        query = (request.GET.get("customer") or "").strip()[:150]
        customer = None
        error = ""
        items, again = [], []
        if query:
            lookup = User.objects.filter(pk=int(query)) if query.isdigit() else User.objects.filter(username=query)
            customer = lookup.first()
            if customer is None:
                error = f"No customer {query!r}."
            else:
                audit_record(
                    actor=request.user,
                    action="recommendations.preview",
                    subject=customer,
                    object_repr=f"user {customer.pk}",
                    path=request.path,
                )
                items = recommendations_for(user=customer, k=20)
                again = buy_it_again_for(user=customer, k=10)
        context = {
            **self.admin_site.each_context(request),
            "title": "Preview a customer's recommendations",
            "query": query,
            "customer": customer,
            "error": error,
            "items": items,
            "again": again,
            "opts": self.model._meta,
        }
        return render(request, "admin/recommendations/preview.html", context)


@admin.register(UserRecommendation)
class UserRecommendationAdmin(admin.ModelAdmin):
    list_display = ("user_id", "rank", "product", "score", "reason", "model_version")
    list_filter = ("model_version",)
    search_fields = ("=user__id",)
    list_select_related = ("product", "model_version")
    readonly_fields = ("user", "product", "rank", "score", "reason", "model_version", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(SimilarProduct)
class SimilarProductAdmin(admin.ModelAdmin):
    list_display = ("product", "kind", "rank", "similar", "score")
    list_filter = ("kind",)
    search_fields = ("=product__id", "product__title")
    list_select_related = ("product", "similar")
    readonly_fields = ("product", "similar", "kind", "rank", "score", "model_version")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


def preview_link(user_id: int) -> str:
    return format_html('<a href="{}?customer={}">preview</a>', reverse("admin:recommendations_preview"), user_id)

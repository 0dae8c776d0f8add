"""Admin: campaigns with validation, audience estimate, lifecycle actions, approval of
advertisers' campaigns, daily report + CSV, the merchant's advertising settings (reserve prices,
allowed slots, external landing URLs) and advertisers' API tokens.

Shop staff with the Marketing role (advertising.* model permissions) manage every advertiser's
campaigns here. Advertisers are not staff and never reach the admin: their portal is
/advertisers/ and the token API, scoped to their own advertiser (Campaign.objects.visible_to).
Money shows with the shop's currency; genders, countries and segments are multi-selects.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from ecommerce.errors import DomainError
from ecommerce.money import format_money
from ecommerce.roles import REVIEW_CAMPAIGNS, user_can

from . import conf
from .forms import AdAdminForm, AdsSettingsForm, CampaignAdminForm, MoneyInput, ReviewForm
from .models import Ad, AdsSettings, Advertiser, ApiToken, Campaign, DailyReport
from .reports import report_csv
from .selectors import audience_estimate, live_ads_invalidate, report_rows, report_totals
from .services import campaign_review, campaign_transition, merchant_settings_save, report_rollups_refresh
from .tokens import api_token_revoke


def _money_column(field: str, label: str):
    """A changelist column showing a campaign money field in the one money format."""

    @admin.display(description=label, ordering=field)
    def column(self, obj) -> str:
        return format_money(getattr(obj, field), settings.SHOP_CURRENCY)

    column.__name__ = f"{field}_money"
    return column


@admin.register(Advertiser)
class AdvertiserAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "campaign_count", "pending_count", "created_at"]
    filter_horizontal = ["users"]
    search_fields = ["name"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_campaigns=models.Count("campaigns", distinct=True),
                n_pending=models.Count(
                    "campaigns", filter=models.Q(campaigns__review_status=Campaign.Review.PENDING), distinct=True
                ),
            )
        )

    @admin.display(description="Campaigns", ordering="n_campaigns")
    def campaign_count(self, obj) -> int:
        return obj.n_campaigns

    @admin.display(description="Waiting for approval", ordering="n_pending")
    def pending_count(self, obj) -> str:
        if not obj.n_pending:
            return "0"
        url = reverse("admin:advertising_campaign_changelist")
        return format_html(
            '<a href="{}?advertiser__id__exact={}&review_status__exact=pending_review">{}</a>',
            url,
            obj.pk,
            obj.n_pending,
        )


class AdInline(admin.StackedInline):
    model = Ad
    form = AdAdminForm
    extra = 1
    fields = ["headline", "product", "image_url", "landing_url", "is_active"]
    raw_id_fields = ["product"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.URLField):
            kwargs["assume_scheme"] = "https"  # Django 6 default; typed "shop.com/x" -> https
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def has_delete_permission(self, request, obj=None):
        return False  # impressions reference ads: deactivate instead


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignAdminForm
    list_display = [
        "name",
        "advertiser",
        "status",
        "review_column",
        "bid_type",
        "bid_money",
        "daily_budget_money",
        "total_budget_money",
        "spend_total_money",
        "report_link",
    ]
    list_filter = ["review_status", "status", "bid_type", "objective", "advertiser"]
    search_fields = ["name", "advertiser__name"]
    readonly_fields = [
        "status",
        "review_column",
        "spend_total_money",
        "spend_today_money",
        "audience_size",
        "report_link",
    ]
    filter_horizontal = ["interest_categories", "retarget_categories"]
    inlines = [AdInline]
    actions = ["make_approved", "make_active", "make_paused", "make_finished"]
    fieldsets = [
        (None, {"fields": ["advertiser", "name", "objective", "status", "review_column", "report_link"]}),
        (
            "Schedule and money",
            {
                "fields": [
                    "starts_at",
                    "ends_at",
                    "daily_budget",
                    "total_budget",
                    "bid_type",
                    "bid",
                    "spend_total_money",
                    "spend_today_money",
                    "attribution_days",
                    "view_attribution_days",
                    "run_of_site",
                ]
            },
        ),
        (
            "Targeting",
            {
                "fields": [
                    "min_age",
                    "max_age",
                    "genders",
                    "countries",
                    "interest_categories",
                    "segments",
                    "retarget",
                    "retarget_days",
                    "retarget_categories",
                    "lookalike_min_score",
                    "audience_size",
                ]
            },
        ),
        ("Frequency caps", {"fields": ["cap_per_user_day", "cap_per_session"]}),
    ]

    bid_money = _money_column("bid", "Bid")
    daily_budget_money = _money_column("daily_budget", "Daily budget")
    total_budget_money = _money_column("total_budget", "Total budget")
    spend_total_money = _money_column("spend_total", "Spent in total")
    spend_today_money = _money_column("spend_today", "Spent today")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.DecimalField):
            kwargs["widget"] = MoneyInput(attrs={"step": "0.01"})
            kwargs.setdefault("help_text", db_field.help_text)
            kwargs["help_text"] = f"{kwargs['help_text']} In {settings.SHOP_CURRENCY}.".strip()
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    # --- who sees what -------------------------------------------------------------------
    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user).select_related("advertiser")

    def has_delete_permission(self, request, obj=None):
        return False  # billing records reference campaigns: finish them instead

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        live_ads_invalidate()  # serving picks up the edit at once

    # --- display -----------------------------------------------------------------------
    @admin.display(description="Audience size estimate")
    def audience_size(self, obj: Campaign) -> str:
        if not obj.pk:
            return "Save the campaign to see the estimate."
        est = audience_estimate(campaign=obj)
        text = f"{est['matching_users']} of {est['total_users']} registered shoppers match"
        if est["likely_interested"] is not None:
            text += f"; {est['likely_interested']} likely interested (lookalike classifier)"
        if est["notes"]:
            text += ". " + " ".join(est["notes"])
        return text

    @admin.display(description="Report")
    def report_link(self, obj: Campaign) -> str:
        if not obj.pk:
            return "-"
        return format_html('<a href="{}">Daily report</a>', reverse("admin:advertising_campaign_report", args=[obj.pk]))

    @admin.display(description="Approval", ordering="review_status")
    def review_column(self, obj: Campaign) -> str:
        if not obj.pk:
            return "-"
        label = obj.get_review_status_display()
        if obj.review_status == Campaign.Review.REJECTED and obj.review_reason:
            label = f"{label}: {obj.review_reason}"
        return format_html(
            '{} · <a href="{}">Review</a>', label, reverse("admin:advertising_campaign_review", args=[obj.pk])
        )

    # --- approval -------------------------------------------------------------------------
    @admin.action(description="Approve (may serve when active)")
    def make_approved(self, request, queryset):
        for campaign in queryset:
            try:
                campaign_review(campaign=campaign, user=request.user, approve=True)
                self.message_user(request, f"{campaign}: approved.")
            except DomainError as exc:
                self.message_user(request, f"{campaign}: {exc}", level=messages.ERROR)

    def review_view(self, request, pk: int):
        """Approve, or reject with a reason the advertiser sees in the portal."""
        campaign = self._campaign(request, pk)
        if not user_can(request.user, REVIEW_CAMPAIGNS):
            raise PermissionDenied
        form = ReviewForm(request.POST or None)
        status = 200
        if request.method == "POST" and form.is_valid():
            try:
                campaign_review(
                    campaign=campaign,
                    user=request.user,
                    approve=form.cleaned_data["decision"] == "approve",
                    reason=form.cleaned_data["reason"],
                )
            except DomainError as exc:
                form.add_error(None, str(exc))
                status = 400
            else:
                self.message_user(request, f"{campaign}: {campaign.get_review_status_display().lower()}.")
                return HttpResponseRedirect(reverse("admin:advertising_campaign_changelist"))
        elif request.method == "POST":
            status = 400
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "campaign": campaign,
            "ads": campaign.ads.select_related("product").order_by("-is_active", "-pk"),
            "form": form,
            "title": f"Review: {campaign.name}",
            "currency": settings.SHOP_CURRENCY,
        }
        return TemplateResponse(request, "advertising/admin/review.html", context, status=status)

    # --- lifecycle ------------------------------------------------------------------------
    def _transition(self, request, queryset, status: str) -> None:
        for campaign in queryset:
            try:
                campaign_transition(campaign=campaign, to_status=status, user=request.user)
                self.message_user(request, f"{campaign}: now {status}.")
            except DomainError as exc:
                self.message_user(request, f"{campaign}: {exc}", level=messages.ERROR)

    @admin.action(description="Activate (start serving)")
    def make_active(self, request, queryset):
        self._transition(request, queryset, Campaign.Status.ACTIVE)

    @admin.action(description="Pause")
    def make_paused(self, request, queryset):
        self._transition(request, queryset, Campaign.Status.PAUSED)

    @admin.action(description="Finish (stop for good)")
    def make_finished(self, request, queryset):
        self._transition(request, queryset, Campaign.Status.FINISHED)

    # --- report ---------------------------------------------------------------------------
    def get_urls(self):
        own = [
            path("<int:pk>/report/", self.admin_site.admin_view(self.report_view), name="advertising_campaign_report"),
            path("<int:pk>/review/", self.admin_site.admin_view(self.review_view), name="advertising_campaign_review"),
            path(
                "<int:pk>/report.csv",
                self.admin_site.admin_view(self.report_csv),
                name="advertising_campaign_report_csv",
            ),
        ]
        return own + super().get_urls()

    def _campaign(self, request, pk: int) -> Campaign:
        if not self.has_view_permission(request):  # admin_view only checks is_staff
            raise PermissionDenied
        return get_object_or_404(self.get_queryset(request), pk=pk)

    def report_view(self, request, pk: int):
        campaign = self._campaign(request, pk)
        if request.method == "POST" and request.POST.get("refresh") and self.has_change_permission(request):
            report_rollups_refresh(days=int(request.POST.get("days", "2") or 2))
            self.message_user(request, "Report refreshed from the logs.")
        rows = list(report_rows(campaign=campaign))
        top = max([r.impressions for r in rows] + [1])
        top_clicks = max([r.clicks for r in rows] + [1])
        bar_w = 28
        chart = [
            {
                "x": 40 + i * (bar_w * 2 + 10),
                "w": bar_w,
                "day": r.day,
                "imp_h": round(160 * r.impressions / top),
                "click_h": round(160 * r.clicks / top_clicks),
                "row": r,
            }
            for i, r in enumerate(rows)
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "campaign": campaign,
            "rows": rows,
            "totals": report_totals(rows),
            "chart": chart,
            "chart_width": max(400, 60 + len(rows) * (bar_w * 2 + 10)),
            "title": f"Report: {campaign.name}",
            "estimate": audience_estimate(campaign=campaign),
            "currency": settings.SHOP_CURRENCY,
        }
        return TemplateResponse(request, "advertising/admin/report.html", context)

    def report_csv(self, request, pk: int) -> HttpResponse:
        campaign = self._campaign(request, pk)
        response = HttpResponse(report_csv(campaign=campaign), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-report.csv"'
        return response


@admin.register(DailyReport)
class DailyReportAdmin(admin.ModelAdmin):
    list_display = [
        "campaign",
        "day",
        "impressions",
        "clicks",
        "spend_money",
        "conversions",
        "revenue_money",
        "roas_column",
        "cpa_money",
    ]
    list_filter = ["day"]
    spend_money = _money_column("spend", "Spend")
    revenue_money = _money_column("revenue", "Revenue")

    @admin.display(description="ROAS")
    def roas_column(self, obj: DailyReport) -> str:
        return f"{obj.roas:.2f}"

    @admin.display(description="CPA")
    def cpa_money(self, obj: DailyReport) -> str:
        return "—" if obj.cpa is None else format_money(obj.cpa, settings.SHOP_CURRENCY)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(campaign__in=Campaign.objects.visible_to(request.user))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AdsSettings)
class AdsSettingsAdmin(admin.ModelAdmin):
    """One row: the merchant's reserve prices, allowed slots and landing-URL rule. The changelist
    opens the form directly; saving goes through merchant_settings_save (validated, cache dropped)."""

    form = AdsSettingsForm

    def has_add_permission(self, request):
        return False  # the changelist creates the one row on first save

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        current = conf.merchant_settings()
        row = AdsSettings.objects.filter(pk=1).first() or AdsSettings(
            pk=1,
            reserve_cpc=current.reserve_cpc,
            reserve_cpm=current.reserve_cpm,
            allowed_slots=list(current.allowed_slots),
            allow_external_landing_urls=current.allow_external_landing_urls,
        )
        can_change = self.has_change_permission(request)
        form = AdsSettingsForm(request.POST if request.method == "POST" else None, instance=row)
        status = 200
        if request.method == "POST":
            if not can_change:
                raise PermissionDenied
            if form.is_valid():
                try:
                    merchant_settings_save(user=request.user, data=form.cleaned_data)
                except DomainError as exc:
                    form.add_error(None, str(exc))
                else:
                    self.message_user(request, "Advertising settings saved.")
                    return HttpResponseRedirect(request.path)
            status = 400
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "can_change": can_change,
            "title": "Advertising settings",
            "currency": settings.SHOP_CURRENCY,
        }
        return TemplateResponse(request, "advertising/admin/settings.html", context, status=status)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:advertising_adssettings_changelist"))


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Advertisers' API tokens (only a prefix and a hash are stored): see and revoke."""

    list_display = ["name", "advertiser", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["advertiser", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "advertiser__name"]
    readonly_fields = ["advertiser", "created_by", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    exclude = ["key_hash"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # created by the advertiser in the portal (the key is shown to them only)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            api_token_revoke(user=request.user, token_id=token.pk)
        self.message_user(request, f"{queryset.count()} token(s) revoked.")

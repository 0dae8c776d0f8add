"""Admin: campaigns with validation, audience estimate, lifecycle actions, daily report + CSV.

Shop staff with the Marketing role (advertising.* model permissions) manage every advertiser's
campaigns here. Advertisers are not staff and never reach the admin: their portal is the API,
scoped to their own advertiser (Campaign.objects.visible_to).
"""

from __future__ import annotations

import csv
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from ecommerce.errors import DomainError
from ecommerce.money import format_money, money_plain

from .models import Ad, Advertiser, Campaign, DailyReport
from .selectors import audience_estimate, live_ads_invalidate, report_rows, report_totals
from .services import campaign_transition, report_rollups_refresh


class MoneyInput(forms.NumberInput):
    """A money input that shows 3.000000 as "3.00" but keeps a fraction of a penny ("0.0125")."""

    def format_value(self, value):
        if isinstance(value, Decimal):
            plain = money_plain(value)
            return plain if Decimal(plain) == value else format(value.normalize(), "f")
        return super().format_value(value)


def _money_column(field: str, label: str):
    """A changelist column showing a campaign money field in the one money format."""

    @admin.display(description=label, ordering=field)
    def column(self, obj) -> str:
        return format_money(getattr(obj, field), settings.SHOP_CURRENCY)

    column.__name__ = f"{field}_money"
    return column


@admin.register(Advertiser)
class AdvertiserAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "created_at"]
    filter_horizontal = ["users"]
    search_fields = ["name"]


class AdInline(admin.StackedInline):
    model = Ad
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
    list_display = [
        "name",
        "advertiser",
        "status",
        "bid_type",
        "bid_money",
        "daily_budget_money",
        "total_budget_money",
        "spend_total_money",
        "report_link",
    ]
    list_filter = ["status", "bid_type", "objective"]
    search_fields = ["name", "advertiser__name"]
    readonly_fields = ["status", "spend_total_money", "spend_today_money", "audience_size", "report_link"]
    filter_horizontal = ["interest_categories", "retarget_categories"]
    inlines = [AdInline]
    actions = ["make_active", "make_paused", "make_finished"]
    fieldsets = [
        (None, {"fields": ["advertiser", "name", "objective", "status", "report_link"]}),
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
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-report.csv"'
        writer = csv.writer(response)
        # Money columns are plain decimals with 2 places (a spreadsheet sums them); the currency
        # is its own column rather than a symbol inside each value.
        currency = settings.SHOP_CURRENCY
        writer.writerow(
            ["day", "impressions", "clicks", "ctr", "spend", "avg_cpc", "conversions", "revenue", "roas", "currency"]
        )
        for r in report_rows(campaign=campaign):
            writer.writerow(
                [
                    r.day.isoformat(),
                    r.impressions,
                    r.clicks,
                    f"{r.ctr:.4f}",
                    money_plain(r.spend, currency),
                    money_plain(r.avg_cpc, currency),
                    r.conversions,
                    money_plain(r.revenue, currency),
                    f"{r.roas:.2f}",
                    currency,
                ]
            )
        return response


@admin.register(DailyReport)
class DailyReportAdmin(admin.ModelAdmin):
    list_display = ["campaign", "day", "impressions", "clicks", "spend_money", "conversions", "revenue_money"]
    list_filter = ["day"]
    spend_money = _money_column("spend", "Spend")
    revenue_money = _money_column("revenue", "Revenue")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(campaign__in=Campaign.objects.visible_to(request.user))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

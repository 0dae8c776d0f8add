"""The analytics dashboard page (permission analytics.view_analytics): a shell whose charts fetch
the JSON API (analytics/api.py)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from ecommerce.decorators import perm_required
from ecommerce.models import Category
from ecommerce.roles import VIEW_ANALYTICS

from . import queries
from .models import DailyMetric
from .selectors import rollups_refreshed_at, segment_list
from .services import rollups_refresh_request


@perm_required(VIEW_ANALYTICS)
@ensure_csrf_cookie
def dashboard(request: HttpRequest) -> HttpResponse:
    start, end = queries.default_range()
    context = {
        **admin.site.each_context(request),  # the admin's header (shop name) and theme
        # No nav sidebar: the charts need the width, and its "Dashboard" row would carry a second
        # id="analytics-dashboard" (the admin ids rows <app>-<model>).
        "is_nav_sidebar_enabled": False,
        "title": "Analytics dashboard",
        "default_start": start.isoformat(),
        "default_end": end.isoformat(),
        "segments": segment_list(),
        "categories": Category.objects.filter(parent__isnull=True).order_by("name")[:200],
        "countries": (
            DailyMetric.objects.exclude(country="")
            .values_list("country", flat=True)
            .distinct()
            .order_by("country")[:300]
        ),
        "event_types": queries.EVENT_TYPES,
        # Six step pickers: the default funnel, then empty ones a merchant may fill.
        "funnel_step_defaults": [*queries.DEFAULT_FUNNEL, "", ""][:6],
        "kpi_definitions": [(key, label, queries.KPI_DEFINITIONS[key]) for key, label in queries.KPI_LABELS.items()],
        "refreshed_at": rollups_refreshed_at(),
        # How many API calls the page makes at once.
        "max_parallel": settings.ANALYTICS_DASHBOARD_PARALLEL,
    }
    return render(request, "analytics/dashboard.html", context)


@perm_required(VIEW_ANALYTICS)
@require_POST
def refresh(request: HttpRequest) -> HttpResponse:
    """The dashboard's "Refresh now": queue a rollup refresh of the range the merchant is looking at."""
    outcome = rollups_refresh_request(start=request.POST.get("start", ""), end=request.POST.get("end", ""))
    (messages.success if outcome.ok else messages.error)(request, outcome.message)
    return redirect("analytics:dashboard")

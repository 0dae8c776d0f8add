"""Pages: the shopper chat, the agent console and the metrics dashboard (thin: data comes by API)."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from . import selectors, services
from .engine import intent_model_version


@ensure_csrf_cookie
def chat_page(request):
    return render(request, "support/chat.html", {})


@staff_member_required
@ensure_csrf_cookie
def console_page(request):
    if not services.is_agent(request.user):
        raise PermissionDenied("Support agents only.")
    from .api import display_name

    return render(request, "support/console.html", {"agent_name": display_name(request.user)})


@staff_member_required
def metrics_page(request):
    return render(request, "support/metrics.html", {
        "metrics": selectors.support_metrics(), "counts": selectors.queue_counts(),
        "model_version": intent_model_version(),
    })

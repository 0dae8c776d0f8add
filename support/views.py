"""Pages: the shopper chat, the agent console and the metrics dashboard (thin: data comes by API)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from ecommerce.decorators import perm_required
from ecommerce.roles import HANDLE_CONVERSATIONS, VIEW_SUPPORT_METRICS

from . import selectors, services
from .engine import intent_model_version


@ensure_csrf_cookie
def chat_page(request):
    return render(request, "support/chat.html", {})


@perm_required(HANDLE_CONVERSATIONS, "Support agents only.")
@ensure_csrf_cookie
def console_page(request):
    if not services.is_agent(request.user):
        raise PermissionDenied("Support agents only.")
    from .api import display_name

    return render(request, "support/console.html", {"agent_name": display_name(request.user)})


@perm_required(VIEW_SUPPORT_METRICS)
def metrics_page(request):
    return render(
        request,
        "support/metrics.html",
        {
            "metrics": selectors.support_metrics(),
            "counts": selectors.queue_counts(),
            "model_version": intent_model_version(),
        },
    )

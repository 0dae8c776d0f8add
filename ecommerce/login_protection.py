"""Login brute-force protection (django-axes) wired to this project.

django-axes counts failed logins per username and per client address (AXES_LOCKOUT_PARAMETERS)
in the database and refuses further attempts, right or wrong, until the cool-off has passed.
This module holds the three project-specific pieces its settings point to: the backend, the
client address behind proxies, and the answer a locked-out browser gets.
"""

from __future__ import annotations

import logging
from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from .storefront.context import storefront_nav

logger = logging.getLogger(__name__)


class LoginAttemptBackend(AxesStandaloneBackend):
    """Axes' lockout check, skipped only when there is no HTTP request at all.

    Every login form (the storefront's LoginView, the admin's) passes the request to
    authenticate(). Calls without one come from code on the server itself, such as the test
    client's login(), where there is no remote attacker to throttle; axes would raise ValueError.
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request: HttpRequest) -> str | None:
    """The client address as DRF's throttles see it: REMOTE_ADDR, or X-Forwarded-For behind
    DJANGO_NUM_PROXIES trusted proxies (a client can prepend any address it likes, so only the
    entry the nearest trusted proxy appended counts)."""
    num_proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if num_proxies and forwarded:
        addresses = [a.strip() for a in forwarded.split(",") if a.strip()]
        if addresses:
            return addresses[-min(num_proxies, len(addresses))]
    return request.META.get("REMOTE_ADDR")


def log_lockout(sender: Any, request: HttpRequest, username: str | None = None, **kwargs: Any) -> None:
    """user_locked_out receiver: one warning per refused attempt, with ids only (AXES_VERBOSE is
    off because axes' own messages carry the username and address)."""
    from django.contrib.auth import get_user_model

    user_id = (
        get_user_model().objects.filter(username=username).values_list("pk", flat=True).first() if username else None
    )
    logger.warning("auth.login_locked_out", extra={"user_id": user_id, "path": request.path})


def lockout_message() -> str:
    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    return (
        f"Too many failed login attempts. For your security, logging in is paused for "
        f"{minutes} minutes. Please try again later."
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the login page again, with the reason, answered 429."""
    status = settings.AXES_HTTP_RESPONSE_CODE
    message = lockout_message()
    if request.path.startswith(reverse("admin:login")):
        return render(request, "registration/locked_out.html", {"message": message}, status=status)
    username = (credentials or {}).get("username", "") or request.POST.get("username", "")
    form = AuthenticationForm(request, initial={"username": username})
    context = {
        **storefront_nav(request),
        "form": form,
        "locked_out_message": message,
        "next": request.POST.get("next", ""),
    }
    return render(request, "registration/login.html", context, status=status)

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .privacy import tracking_allowed


class PrivacyConsentMiddleware:
    """Sets request.tracking_allowed once, so views, templates and the tracker agree."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.tracking_allowed = tracking_allowed(request)
        return self.get_response(request)

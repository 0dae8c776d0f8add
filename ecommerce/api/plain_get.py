"""The plain-GET path of the serving APIs (recommendations/api.py, advertising/api.py).

For a hot GET whose answer is cheap, DRF's Request wrapper, Response and renderer pass cost more
than the answer. Each view does its own checks in DRF's order and with DRF's rules, then builds a
Django response; this runs it with DRF's view state set up and routes anything raised (a bad
parameter, throttled, a dependency down) through DRF's own handle_exception and
finalize_response, so every error answer is exactly the one DRF's dispatch would give.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.functional import LazyObject, empty
from rest_framework.views import APIView


def request_user(request: HttpRequest) -> Any:
    """request.user, resolved once and put back on the request as the user object itself.

    AuthenticationMiddleware leaves a SimpleLazyObject there: every attribute read through it is a
    failed lookup plus a proxy call (~5% of a signed-in serving request's CPU, py-spy). The object
    it resolves to is the same; django.contrib.auth.login() assigns request.user the same way.
    """
    user = request.user
    if isinstance(user, LazyObject):
        if user._wrapped is empty:
            user._setup()
        user = request.user = user._wrapped
    return user


def plain_get_dispatch(
    view: APIView, request: HttpRequest, args: tuple, kwargs: dict[str, Any], answer: Callable[[], HttpResponse]
) -> HttpResponse:
    """APIView.dispatch for a GET answered by `answer()` on the plain Django request."""
    view.args, view.kwargs, view.request = args, kwargs, request
    view.headers = view.default_response_headers
    try:
        response = answer()
    except Exception as exc:
        drf_request = view.initialize_request(request, *args, **kwargs)
        view.request = drf_request
        view.format_kwarg = None
        response = view.handle_exception(exc)
        return view.finalize_response(drf_request, response, *args, **kwargs)
    for key, value in view.headers.items():  # Allow and Vary, as finalize_response sets them
        response[key] = value
    return response

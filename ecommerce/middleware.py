from __future__ import annotations

from collections.abc import Callable

from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control
from django.utils.functional import SimpleLazyObject, empty

from .privacy import tracking_allowed


class PrivacyConsentMiddleware:
    """Sets request.tracking_allowed once, so views, templates and the tracker agree; and marks
    every personal response `Cache-Control: private, no-store`.

    A middleware rather than a decorator per view: a response can only be personal if the view
    read the session (the signed-in user is found through it; the cart, the chat and guest orders
    hang on it), and Django flags exactly that (`session.accessed`). So one rule covers /api/me/*,
    orders, account pages, personal recommendations, the chat and any view added later, without
    anyone remembering a decorator; pages that never looked at the session stay cacheable.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.tracking_allowed = tracking_allowed(request)
        response = self.get_response(request)
        if _is_personal(request):
            patch_cache_control(response, private=True, no_store=True)
        return response


def _is_personal(request: HttpRequest) -> bool:
    session = getattr(request, "session", None)
    if session is not None and session.accessed and not session.is_empty():
        return True
    # A view may know the user without the session (an ingestion token, a test client).
    user = getattr(request, "user", None)
    if user is None or getattr(user, "_wrapped", None) is empty:  # never looked at: not personal
        return False
    return bool(getattr(user, "is_authenticated", False))


class LazyMessageMiddleware(MessageMiddleware):
    """Django's MessageMiddleware, with the message storage made on first use.

    Building the storage (a cookie storage and a session storage, each reading settings) cost
    every request, though only pages and the admin ever read or add a message; the JSON serving
    APIs never do. A storage nobody touched has nothing to save: Django's own `update()` stores
    only when messages were read (`used`) or added, so skipping it then changes nothing. The
    admin's system check accepts a subclass of MessageMiddleware.
    """

    def process_request(self, request: HttpRequest) -> None:
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response  # never read, never added to
        return super().process_response(request, response)

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers
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


class MemoLocaleMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware with its language decision remembered per process.

    Without i18n_patterns (this project's URLconf: no language prefix in any URL) Django decides
    the language from the language cookie and the Accept-Language header alone, and it does that
    work on every request: two path-prefix lookups that fail with a LookupError each, the header
    parse, a LookupError for a missing cookie. That was ~30 µs of a ~370 µs ad request (about as
    much as the four security-header middlewares together; docs/benchmarks/storefront.md
    "Round 8"). The decision is a pure function of (cookie, header) and of the LANGUAGE* settings,
    so it is kept in a bounded dict, cleared when those settings change. Activation, the
    request's LANGUAGE_CODE and the response headers (Vary: Accept-Language, Content-Language)
    are Django's. With i18n_patterns in a URLconf, Django's own code runs unchanged
    (tests/ecommerce/test_locale_middleware.py compares the two on many requests).
    """

    MAX_REMEMBERED = 1024
    MAX_HEADER_LENGTH = 256  # longer headers are decided each time, not remembered
    decided: dict[tuple[str | None, str], str] = {}

    def _prefixes_used(self, request: HttpRequest) -> bool:
        return is_language_prefix_patterns_used(getattr(request, "urlconf", settings.ROOT_URLCONF))[0]

    def process_request(self, request: HttpRequest) -> None:
        if self._prefixes_used(request):
            return super().process_request(request)
        key = (request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME), request.META.get("HTTP_ACCEPT_LANGUAGE", ""))
        language = self.decided.get(key)
        if language is None:
            language = translation.get_language_from_request(request, check_path=False)
            if max(len(key[0] or ""), len(key[1])) <= self.MAX_HEADER_LENGTH:
                if len(self.decided) >= self.MAX_REMEMBERED:
                    self.decided.clear()
                self.decided[key] = language
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        return None

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if self._prefixes_used(request):
            return super().process_response(request, response)
        # Django's process_response without a language prefix: no redirect, these two headers.
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response


@receiver(setting_changed)
def _forget_language_decisions(*, setting: str, **kwargs) -> None:
    if setting in {"LANGUAGES", "LANGUAGE_CODE", "LANGUAGE_COOKIE_NAME", "LOCALE_PATHS"}:
        MemoLocaleMiddleware.decided.clear()

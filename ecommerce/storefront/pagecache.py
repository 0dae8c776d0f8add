"""Whole-page cache for anonymous visitors: the same HTML for everyone who sends no session.

A first visit (no cookie) or a crawler sees exactly what every other such visitor sees: the
catalogue, the trending recommendations, the consent banner. Rendering that again for each of them
costs 10-30 ms and 10-20 queries; serving it from Redis costs one GET. What makes it safe:

- **Only requests that cannot be personal** look in the cache: GET/HEAD, no session cookie, no
  messages cookie, no recently-viewed cookie. A signed-in shopper or a visitor with a cart always
  renders.
- **The CSRF token is never cached.** The cacheable render puts a placeholder where
  `{% csrf_token %}` goes; every answer replaces it with a token of this visitor's own CSRF cookie
  (set on the response as `ensure_csrf_cookie` would). So forms on a cached page work.
- **A render that wrote anything is not stored** (the database saw an INSERT/UPDATE/DELETE, or
  the session was changed): a cache hit would silently skip that write. Pages whose templates still
  write per render (server-side ad slots) simply stay uncached.
- **Pages carry the generations**: the catalogue generation (bumped on every product, category or
  stock change, ecommerce.services.catalog.catalogue_generation_bump) and the recommendations
  generation (bumped on every retrain and rule change), stored with the page and compared with the
  current ones fetched in the same Redis round trip (one GET of three keys per hit). A bump
  invalidates every page at once;
  STOREFRONT_PAGE_CACHE_SECONDS bounds the age of everything else (0 turns the cache off).
- The consent state (none / yes / no / Do-Not-Track) and the language are part of the key: the
  banner and the tracker depend on them.

Redis down: every lookup is a miss and the page renders from PostgreSQL as before.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils import translation

from ..selectors.catalog import CATALOGUE_GENERATION_KEY, catalogue_generation
from .context import consent_state

logger = logging.getLogger(__name__)

# Stands in for the CSRF token in a cacheable render (64 characters like a real masked token, and
# made only of token characters, so the markup around it is exactly what Django renders).
CSRF_PLACEHOLDER = "CSRFPLACEHOLDER" + "x" * 49
_ACTIVE_ATTR = "_storefront_page_cacheable"
RECENT_VIEWS_COOKIE = "recent_views"  # kept in step with recommendations.selectors
_PERSONAL_COOKIES = (RECENT_VIEWS_COOKIE, "messages")
_WRITE_PREFIXES = ("INSERT", "UPDATE", "DELETE", "COPY")


def page_cache_seconds() -> int:
    return int(getattr(settings, "STOREFRONT_PAGE_CACHE_SECONDS", 0) or 0)


def request_is_anonymous_and_plain(request: HttpRequest) -> bool:
    """True when nothing in the request can make the page personal."""
    if request.method not in ("GET", "HEAD"):
        return False
    cookies = request.COOKIES
    if settings.SESSION_COOKIE_NAME in cookies:
        return False
    return not any(name in cookies for name in _PERSONAL_COOKIES)


def page_cache_active(request: HttpRequest) -> bool:
    """Is this render meant for the cache (so the CSRF token must be a placeholder)?"""
    return bool(getattr(request, _ACTIVE_ATTR, False))


def _generations(found: dict[str, Any]) -> tuple[int, int]:
    """(catalogue, recommendations) generations from a get_many answer, starting missing ones."""
    # Imported here: the core app reads the other app's generation without importing it at load.
    from recommendations.selectors import GENERATION_KEY, recommendations_generation

    catalogue = found.get(CATALOGUE_GENERATION_KEY)
    recs = found.get(GENERATION_KEY)
    return (
        int(catalogue) if catalogue is not None else catalogue_generation(),
        int(recs) if recs is not None else recommendations_generation(),
    )


def page_cache_key(request: HttpRequest) -> str:
    """The page's key: path, language and consent state. The generations are checked against the
    ones stored with the page (fetched in the same round trip), not put in the key."""
    path_hash = hashlib.sha256(request.get_full_path().encode()).hexdigest()[:32]
    return ":".join(["sf:page", translation.get_language() or "", consent_state(request) or "none", path_hash])


def _lookup(key: str) -> tuple[tuple[int, int], Any]:
    """One Redis round trip: the cached page and both generations."""
    from recommendations.selectors import GENERATION_KEY

    found = cache.get_many([key, CATALOGUE_GENERATION_KEY, GENERATION_KEY])
    return _generations(found), found.get(key)


def _is_write(sql: str) -> bool:
    return sql.lstrip().upper().startswith(_WRITE_PREFIXES)


class _WriteWatch:
    """execute_wrapper that notes whether any statement of the render was a write."""

    def __init__(self) -> None:
        self.wrote = False

    def __call__(self, execute, sql, params, many, context):
        if not self.wrote and _is_write(sql):
            self.wrote = True
        return execute(sql, params, many, context)


def _answer(request: HttpRequest, body: bytes, content_type: str) -> HttpResponse:
    token = get_token(request).encode()  # also makes CsrfViewMiddleware set this visitor's cookie
    response = HttpResponse(body.replace(CSRF_PLACEHOLDER.encode(), token), content_type=content_type)
    response["X-Page-Cache"] = "hit"
    return response


def _storable(request: HttpRequest, response: HttpResponse, watch: _WriteWatch) -> bool:
    if response.status_code != 200 or response.streaming or watch.wrote:
        return False
    session = getattr(request, "session", None)
    if session is not None and (session.modified or session.session_key):
        return False
    # Only Django's CSRF cookie may be set by such a page (it is replaced per visitor).
    return all(name == settings.CSRF_COOKIE_NAME for name in response.cookies)


def anonymous_page_cache(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Serve the view's page from the shared cache to anonymous visitors (see the module doc)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        seconds = page_cache_seconds()
        if seconds <= 0 or not request_is_anonymous_and_plain(request):
            return view(request, *args, **kwargs)
        key = page_cache_key(request)
        generations, cached = _lookup(key)
        if cached is not None and cached[0] == generations:
            _, body, content_type = cached
            return _answer(request, body, content_type)
        setattr(request, _ACTIVE_ATTR, True)
        watch = _WriteWatch()
        with connection.execute_wrapper(watch):
            response = view(request, *args, **kwargs)
        setattr(request, _ACTIVE_ATTR, False)
        if not _storable(request, response, watch):
            # Rendered with the placeholder but not cacheable: give this visitor its real token.
            if CSRF_PLACEHOLDER.encode() in getattr(response, "content", b""):
                response.content = response.content.replace(CSRF_PLACEHOLDER.encode(), get_token(request).encode())
            return response
        body = response.content
        cache.set(key, (generations, body, response["Content-Type"]), seconds)
        answer = _answer(request, body, response["Content-Type"])
        answer["X-Page-Cache"] = "miss"
        return answer

    return wrapped

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

**Signed-in shoppers** get the same kind of cache with holes (`signed_in_page`): the page is
rendered once per path, language and consent state with a marker where each personal part goes
(the header's account links and cart count, the cart lines, a personal recommendation widget;
`{% personal %}` and the widget tag leave them, ecommerce/storefront/holes.py renders them), and
every answer fills the holes for its own shopper. The shell holds nothing of the shopper who
rendered it: the only parts that read the user are the holes. One pipelined round trip brings
the session, the user row, the cart summary, both generations and the shell
(ecommerce/cache_batch.py); the holes come from per-shopper caches dropped by every cart write
(ecommerce/selectors/cart.py). Not used (the page renders as before): with messages waiting (they
show once), without a shared cache (a cart change in one process could not reach the others),
for guests with a session (their cart hangs on it).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils import translation

from ..auth_backends import user_cache_key
from ..cache_batch import MISSING, batched_value, cache_batch
from ..cache_copies import track_prefix
from ..selectors.cart import cart_summary_for, cart_summary_key
from ..selectors.catalog import CATALOGUE_GENERATION_KEY, catalogue_generation
from ..sessions import SessionStore as HintedSessionStore
from ..sessions import session_user_hint
from .context import consent_state

logger = logging.getLogger(__name__)

# Stands in for the CSRF token in a cacheable render (64 characters like a real masked token, and
# made only of token characters, so the markup around it is exactly what Django renders).
CSRF_PLACEHOLDER = "CSRFPLACEHOLDER" + "x" * 49
_ACTIVE_ATTR = "_storefront_page_cacheable"  # "anonymous" or "shell" while such a render runs
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


def shell_render_active(request: HttpRequest | None) -> bool:
    """Is this the render of a signed-in page's shell (personal parts become holes)?"""
    return getattr(request, _ACTIVE_ATTR, False) == "shell"


# Markers name a hole and carry a token derived from the secret key, so no text a page shows
# (escaped anyway) can pose as one.
_HOLE_TOKEN = hashlib.sha256(f"storefront-hole:{settings.SECRET_KEY}".encode()).hexdigest()[:16]
_HOLE_RE = re.compile(
    re.escape(CSRF_PLACEHOLDER) + r"|<!--sfhole:" + _HOLE_TOKEN + r":([a-z_]+)((?::[A-Za-z0-9_-]+)*)-->"
)


def hole_marker(name: str, *args: Any) -> str:
    return f"<!--sfhole:{_HOLE_TOKEN}:{name}{''.join(f':{arg}' for arg in args)}-->"


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


# --- signed-in shoppers: a shared shell with personal holes -----------------------------------


SHELL_KEY_PREFIX = "sf:shell:"
track_prefix(SHELL_KEY_PREFIX)  # read on every signed-in page: copies per process (ecommerce/cache_copies.py)


def shell_cache_key(request: HttpRequest) -> str:
    """Like page_cache_key, in a key space of its own (a shell has holes, a page has none)."""
    return SHELL_KEY_PREFIX + page_cache_key(request)[len("sf:page:") :]


def _split(body: str) -> list[Any]:
    """The body as literal strings and hole tuples (name, args); the CSRF placeholder is a hole."""
    parts: list[Any] = []
    position = 0
    for match in _HOLE_RE.finditer(body):
        parts.append(body[position : match.start()])
        name = match.group(1)
        parts.append(("csrf", ()) if name is None else (name, tuple(match.group(2).split(":")[1:])))
        position = match.end()
    parts.append(body[position:])
    return parts


class _Filler:
    """Renders the holes of one answer for its shopper (each part read at most once)."""

    def __init__(self, request: HttpRequest, generations: tuple[int, int]) -> None:
        self.request = request
        self.user = request.user
        self.generations = generations
        self._token: str | None = None
        self._summary = None

    @property
    def token(self) -> str:
        if self._token is None:
            self._token = get_token(self.request)  # also sets this shopper's CSRF cookie
        return self._token

    @property
    def summary(self):
        if self._summary is None:
            self._summary = cart_summary_for(user=self.user)
        return self._summary

    def __call__(self, name: str, args: tuple[str, ...]) -> str:
        from . import holes

        if name == "csrf":
            return self.token
        if name == "user_nav":
            return holes.user_nav_html(user=self.user, cart_count=self.summary.count, csrf_token=self.token)
        if name == "cart_lines":
            html = holes.cart_lines_cached(
                user=self.user,
                summary=self.summary,
                generations=self.generations,
                language=translation.get_language() or "",
                csrf_token=CSRF_PLACEHOLDER,
            )
            return html.replace(CSRF_PLACEHOLDER, self.token)
        if name == "recs":
            # Imported here: the core app fills the recommendations app's widget without importing it at load.
            from recommendations.templatetags.recommendations_tags import personal_widget_html

            slot, k = args[0], int(args[1])
            return personal_widget_html(
                slot,
                k,
                self.request,
                self.user,
                generations=self.generations,
                cart_product_ids=self.summary.product_ids,
            )
        raise ValueError(f"unknown hole {name!r}")


def _fill(parts: list[Any], filler: _Filler) -> bytes:
    return "".join(part if isinstance(part, str) else filler(*part) for part in parts).encode()


def _messages_waiting(request: HttpRequest) -> bool:
    storage = getattr(request, "_messages", None)
    return storage is not None and len(storage) > 0


def _signed_in_keys(request: HttpRequest, shell_key: str) -> list[str]:
    """The keys one round trip should bring: the shell, the generations and, when the session key
    names its user (ecommerce/sessions.py), the session, the user row and the cart summary."""
    from recommendations.selectors import GENERATION_KEY

    keys = [shell_key, CATALOGUE_GENERATION_KEY, GENERATION_KEY]
    session = getattr(request, "session", None)
    hint = session_user_hint(session.session_key) if isinstance(session, HintedSessionStore) else None
    if hint is not None:
        keys += [session.cache_key, user_cache_key(hint), cart_summary_key(hint)]
        # The personal widgets this shell had last time, keyed with the generations seen last: a
        # guess that is right until a bump (then the widget reads its own key, one more round trip).
        widgets, cart_lines = _SHELL_WIDGETS.get(shell_key, ((), False))
        if widgets and _LAST_GENERATIONS:
            from recommendations.templatetags.recommendations_tags import signed_in_widget_key

            keys += [signed_in_widget_key(slot, k, request, hint, _LAST_GENERATIONS[0]) for slot, k in widgets]
        if cart_lines:
            from .holes import cart_lines_key

            keys.append(cart_lines_key(hint, translation.get_language() or ""))
    return keys


# Per process: which batchable holes each shell has (widgets but the cart's, the cart lines), and the generations
# of the last answer. Only guesses for the batch: a wrong one costs the round trip it tried to save.
_SHELL_WIDGETS: dict[str, tuple[tuple[tuple[str, int], ...], bool]] = {}
_SHELL_WIDGETS_MAX = 10_000
_LAST_GENERATIONS: list[tuple[int, int]] = []


def _remember_widgets(shell_key: str, parts: list[Any], generations: tuple[int, int]) -> None:
    _LAST_GENERATIONS[:] = [generations]
    if shell_key in _SHELL_WIDGETS:
        return
    if len(_SHELL_WIDGETS) >= _SHELL_WIDGETS_MAX:
        _SHELL_WIDGETS.clear()
    holes = [part for part in parts if isinstance(part, tuple)]
    widgets = tuple((args[0], int(args[1])) for name, args in holes if name == "recs" and args[0] != "cart")
    _SHELL_WIDGETS[shell_key] = (widgets, any(name == "cart_lines" for name, _ in holes))


def _signed_in_answer(request: HttpRequest, view: Callable[..., HttpResponse], *args: Any, **kwargs: Any):
    """The signed-in page from the shared shell, or the view's own render when it does not apply."""
    from recommendations.selectors import GENERATION_KEY

    seconds = page_cache_seconds()
    key = shell_cache_key(request)
    with cache_batch(keys=_signed_in_keys(request, key)):
        if not request.user.is_authenticated or _messages_waiting(request):
            return view(request, *args, **kwargs)
        found = {name: batched_value(name) for name in (CATALOGUE_GENERATION_KEY, GENERATION_KEY)}
        # not batched (the cache did not answer) or missing: _generations reads or starts them
        generations = _generations({name: value for name, value in found.items() if value not in (None, MISSING)})
        cached = batched_value(key)
        if cached is MISSING:  # the cache did not answer the batch: ask once more, a miss renders
            cached = cache.get(key)
        status = "hit"
        if cached is not None and cached[0] == generations:
            _, parts, content_type = cached
        else:
            status = "miss"
            setattr(request, _ACTIVE_ATTR, "shell")
            watch = _WriteWatch()
            try:
                with connection.execute_wrapper(watch):
                    response = view(request, *args, **kwargs)
            finally:
                setattr(request, _ACTIVE_ATTR, False)
            if response.streaming:
                return response
            if response.status_code != 200:  # not cached, but its holes are this shopper's too
                response.content = _fill(_split(response.content.decode()), _Filler(request, generations))
                return response
            parts, content_type = _split(response.content.decode()), response["Content-Type"]
            if (
                watch.wrote
                or request.session.modified
                or any(name != settings.CSRF_COOKIE_NAME for name in response.cookies)
            ):
                status = "uncacheable"
            else:
                cache.set(key, (generations, parts, content_type), seconds)
        _remember_widgets(key, parts, generations)
        answer = HttpResponse(_fill(parts, _Filler(request, generations)), content_type=content_type)
        answer["X-Page-Cache"] = f"shell-{status}"
        return answer


def storefront_page_cache(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The anonymous page cache, plus the shared shell for signed-in shoppers (see the module doc)."""
    anonymous = anonymous_page_cache(view)

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if (
            page_cache_seconds() <= 0
            or not settings.SHARED_CACHE
            or request.method not in ("GET", "HEAD")
            or request_is_anonymous_and_plain(request)
            or settings.SESSION_COOKIE_NAME not in request.COOKIES
        ):
            return anonymous(request, *args, **kwargs)
        return _signed_in_answer(request, view, *args, **kwargs)

    return wrapped

"""The WSGI handler gunicorn serves (ecommerce/wsgi.py): Django's, with URL resolution remembered.

Django resolves every request's path from scratch: it walks the root URLconf's includes and tries
each pattern in turn, and builds a ResolverMatch per nesting level. For the serving APIs that is
28-41 µs of a ~300 µs request (micro-timed in process; a bare one-route view pays ~3 µs),
docs/benchmarks/storefront.md "Serving APIs, round 3". The answer depends only on the path and
the URLconf (this project has no i18n_patterns, whose match would depend on the active
language), so each process remembers the match of a path it resolved: the same ResolverMatch
(view, args, kwargs, names) Django would build again. Not remembered: requests with their own
`request.urlconf`, paths that do not resolve (404s: a crawler's typos cannot fill the memo),
and anything once the URLconf is reloaded (the memo belongs to the resolver object that
`get_resolver()` returns, which `clear_url_caches()` and a ROOT_URLCONF change replace).
Bounded: cleared when it holds RESOLVE_MEMO_MAX paths (a crawl over every product page is a
miss per path, no more than today).

Serving GETs take a shorter middleware chain. The JSON serving views (recommendation lists,
product neighbours, ad serving: each marked `serving_middleware = True`) answer GET and HEAD
through settings.MIDDLEWARE minus SERVING_MIDDLEWARE_SKIP: the middlewares that do nothing for
such a request (health probes answer other paths, WhiteNoise serves other paths, CSRF checks
nothing on a safe method and these views never hand out a token, messages and the login lockout
are never used). Every other middleware, including any added later, stays in both chains. The
four security-header middlewares run there as one layer that copies their precomputed headers
(ecommerce/security_headers.py, FixedSecurityHeadersMiddleware).
Each skipped middleware cost its call layer on every request: ~100-150 µs of a ~1 ms ad request on
the reference box (docs/benchmarks/storefront.md "Round 4"). tests/ecommerce/test_serving_chain.py
sends the same requests through both chains and requires identical answers.
"""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, ResolverMatch, get_resolver

from .security_headers import SECURITY_HEADER_MIDDLEWARE

RESOLVE_MEMO_MAX = 10_000

_memo: dict[str, ResolverMatch] = {}
_memo_owner: list[object] = [None]  # the resolver the memo's matches came from


def _remembered_match(path: str) -> ResolverMatch:
    """The root URLconf's match for `path`, remembered per process (Resolver404 if none)."""
    resolver = get_resolver()
    if _memo_owner[0] is not resolver:
        _memo.clear()
        _memo_owner[0] = resolver
    match = _memo.get(path)
    if match is None:
        match = resolver.resolve(path)  # Resolver404 propagates, nothing remembered
        if len(_memo) >= RESOLVE_MEMO_MAX:
            _memo.clear()
        _memo[path] = match
    return match


class _RememberingResolver:
    """`resolve_request` with each path's match remembered (see the module docstring)."""

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        if hasattr(request, "urlconf"):  # a middleware chose another URLconf: Django's own path
            return super().resolve_request(request)
        match = _remembered_match(request.path_info)
        # A copy per request (its own kwargs dict): a process_view middleware or a view that
        # changes what it was given cannot change the next request's match.
        # (ResolverMatch refuses copy.copy: it forbids pickling.)
        copied = object.__new__(ResolverMatch)
        copied.__dict__.update(match.__dict__)
        copied.kwargs = dict(match.kwargs)
        request.resolver_match = copied
        return copied


def serving_middleware() -> list[str]:
    """settings.MIDDLEWARE without what SERVING_MIDDLEWARE_SKIP names, in the same order.

    The four security-header middlewares, when all four are there, run as one layer
    (FixedSecurityHeadersMiddleware, at the place of the first): the same headers, worked out once.
    """
    skip = set(settings.SERVING_MIDDLEWARE_SKIP)
    chain = [path for path in settings.MIDDLEWARE if path not in skip]
    if all(path in chain for path in SECURITY_HEADER_MIDDLEWARE):
        first = min(chain.index(path) for path in SECURITY_HEADER_MIDDLEWARE)
        chain = [path for path in chain if path not in SECURITY_HEADER_MIDDLEWARE]
        chain.insert(first, "ecommerce.security_headers.FixedSecurityHeadersMiddleware")
    return chain


class _ServingChain(_RememberingResolver, BaseHandler):
    """The shorter middleware chain serving GETs run through."""

    def load_middleware(self, is_async: bool = False) -> None:
        # Django builds a chain from settings.MIDDLEWARE only: hand it the serving list for the
        # moment it takes (once, while the WSGI application is made), so the chain is built by
        # Django's own code, with its adapters and error wrapping.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = serving_middleware()
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


class ServingWSGIHandler(_RememberingResolver, WSGIHandler):
    """WSGIHandler with remembered URL resolution and the serving chain for serving GETs."""

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async)
        self._serving_chain = None
        if not is_async and set(settings.SERVING_MIDDLEWARE_SKIP) & set(settings.MIDDLEWARE):
            self._serving_chain = _ServingChain()
            self._serving_chain.load_middleware()

    def get_response(self, request: HttpRequest) -> HttpResponse:
        if self._serving_chain is not None and request.method in ("GET", "HEAD") and _is_serving_view(request):
            return self._serving_chain.get_response(request)
        return super().get_response(request)


def _is_serving_view(request: HttpRequest) -> bool:
    try:
        match = _remembered_match(request.path_info)
    except Resolver404:
        return False
    view_class = getattr(match.func, "view_class", None)
    return bool(getattr(view_class, "serving_middleware", False))


def get_serving_wsgi_application() -> ServingWSGIHandler:
    """django.core.wsgi.get_wsgi_application, returning the serving handler."""
    import django

    django.setup(set_prefix=False)
    return ServingWSGIHandler()

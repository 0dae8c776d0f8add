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
"""

from __future__ import annotations

from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest
from django.urls import ResolverMatch, get_resolver

RESOLVE_MEMO_MAX = 10_000

_memo: dict[str, ResolverMatch] = {}
_memo_owner: list[object] = [None]  # the resolver the memo's matches came from


class ServingWSGIHandler(WSGIHandler):
    """WSGIHandler whose `resolve_request` remembers each path's match (see the module docstring)."""

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        if hasattr(request, "urlconf"):  # a middleware chose another URLconf: Django's own path
            return super().resolve_request(request)
        resolver = get_resolver()
        if _memo_owner[0] is not resolver:
            _memo.clear()
            _memo_owner[0] = resolver
        path = request.path_info
        match = _memo.get(path)
        if match is None:
            match = resolver.resolve(path)  # Resolver404 propagates, nothing remembered
            if len(_memo) >= RESOLVE_MEMO_MAX:
                _memo.clear()
            _memo[path] = match
        # A copy per request (its own kwargs dict): a process_view middleware or a view that
        # changes what it was given cannot change the next request's match.
        # (ResolverMatch refuses copy.copy: it forbids pickling.)
        copied = object.__new__(ResolverMatch)
        copied.__dict__.update(match.__dict__)
        copied.kwargs = dict(match.kwargs)
        request.resolver_match = copied
        return copied


def get_serving_wsgi_application() -> ServingWSGIHandler:
    """django.core.wsgi.get_wsgi_application, returning the serving handler."""
    import django

    django.setup(set_prefix=False)
    return ServingWSGIHandler()

"""Content-Security-Policy with the policy string built once per process, not per response.

django-csp's middleware rebuilds the header from the settings on every response (a dataclass
`asdict` deep copy, then every directive joined), ~8% of the CPU of a cached JSON answer. The
policy only varies by a nonce (a page that used `request.csp_nonce`) or by a view's own
`@csp_update` / `@csp_replace` / `@csp_override`; every other response gets the same string. So:
- no nonce and no per-view change: the string built the first time (per report-only flag), reused;
- otherwise: django-csp's own code, unchanged.
The strings are dropped whenever a setting changes (tests' `settings` fixture).
"""

from __future__ import annotations

from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpResponse

_POLICY_OVERRIDES = ("_csp_config", "_csp_update", "_csp_replace")
_POLICY_OVERRIDES_RO = ("_csp_config_ro", "_csp_update_ro", "_csp_replace_ro")
_built: dict[bool, str] = {}


@receiver(setting_changed)
def _forget_policies(**kwargs: Any) -> None:
    _built.clear()


def _plain(response: Any, names: tuple[str, ...]) -> bool:
    return all(getattr(response, name, None) is None for name in names)


class CachedPolicyCSPMiddleware(CSPMiddleware):
    """CSPMiddleware whose policy string is built once while no nonce or view decorator varies it."""

    def process_response(self, request, response):
        # Only the unvaried case is served from _built; everything else takes django-csp's path.
        if getattr(request, "_csp_nonce", None) is None and _plain(response, _POLICY_OVERRIDES + _POLICY_OVERRIDES_RO):
            return _with_cached_policies(self, request, response)
        return super().process_response(request, response)


def _policy(report_only: bool) -> str:
    policy = _built.get(report_only)
    if policy is None:
        policy = _built[report_only] = build_policy(report_only=report_only)
    return policy


def _with_cached_policies(middleware: CSPMiddleware, request, response):
    """django-csp's process_response, with the two build_policy calls answered from _built."""
    if response.status_code in (500, 404) and settings.DEBUG:
        return response
    path = request.path_info
    csp = _policy(False)
    if csp and HEADER not in response and getattr(response, "_csp_exempt", False) is False:
        prefixes = (getattr(settings, "CONTENT_SECURITY_POLICY", None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
        if not path.startswith(tuple(prefixes)):
            response[HEADER] = csp
    csp_ro = _policy(True)
    if csp_ro and HEADER_REPORT_ONLY not in response and getattr(response, "_csp_exempt_ro", False) is False:
        prefixes = (getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None) or {}).get(
            "EXCLUDE_URL_PREFIXES"
        ) or ()
        if not path.startswith(tuple(prefixes)):
            response[HEADER_REPORT_ONLY] = csp_ro
    # As django-csp: a nonce asked for after the header was written is an error, not a silent gap.
    request.csp_nonce = CheckableLazyObject(middleware._csp_nonce_post_response)
    return response


# The security-header middlewares of settings.MIDDLEWARE, in their order there. The serving chain
# runs them as one (ecommerce/handlers.py): FixedSecurityHeadersMiddleware.
SECURITY_HEADER_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "ecommerce.security_headers.CachedPolicyCSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)

# Response attributes by which a view varies one of those headers (django-csp's decorators,
# xframe_options_exempt and friends, django-permissions-policy's override): such a response takes
# the four middlewares' own code.
_VARIED_BY = frozenset(
    (*_POLICY_OVERRIDES, *_POLICY_OVERRIDES_RO, "_csp_exempt", "_csp_exempt_ro", "xframe_options_exempt")
    + ("xframe_options_sameorigin", "_permissions_policy_override", "_permissions_policy_report_only_override")
)


class FixedSecurityHeadersMiddleware:
    """The four security-header middlewares as one, for the serving chain's JSON answers.

    Each of them sets headers that are the same for every answer of a serving view: nosniff,
    Referrer-Policy, Cross-Origin-Opener-Policy, HSTS on HTTPS (SecurityMiddleware), the
    Content-Security-Policy (CachedPolicyCSPMiddleware), Permissions-Policy and X-Frame-Options.
    As four layers they cost ~27 µs of a ~350 µs ad request (docs/benchmarks/storefront.md, round 8);
    here the headers the four would set are worked out once per (HTTPS or not) by running the
    four's own response code on an empty answer, then copied into each answer that has none of
    them yet (the four's "set unless present" rule). What stays the four's own code, unchanged:
    - the HTTPS redirect (SECURE_SSL_REDIRECT) of a plain-HTTP request;
    - an answer a view has varied (a CSP decorator, xframe_options_exempt, a policy override), or
      one that already carries one of the headers;
    - everything, while CSP exempts URL prefixes (then the header depends on the path).
    A CSP nonce is never asked for by a JSON answer, so `request.csp_nonce` is not prepared.
    One difference by design: an answer that a middleware between the four's places gives by
    itself (CommonMiddleware's PREPEND_WWW redirect, say) gets X-Frame-Options here too, which the
    full chain's inner XFrameOptionsMiddleware never sees: one header more, never one fewer.
    tests/ecommerce/test_serving_chain.py holds the answers byte-identical to the full chain's.
    """

    def __init__(self, get_response: Any) -> None:
        from django.utils.module_loading import import_string

        self.get_response = get_response
        # The four real middlewares, each wrapping nothing: their methods do the work.
        self.parts = [import_string(path)(_no_response) for path in SECURITY_HEADER_MIDDLEWARE]
        self.security = self.parts[0]
        self._fixed: dict[bool, tuple[tuple[str, tuple[str, str]], ...] | None] = {}
        receiver(setting_changed, weak=False)(self._forget)

    def _forget(self, **kwargs: Any) -> None:
        self._fixed.clear()

    def _slow(self, request, response):
        """The four middlewares' own response code, innermost (X-Frame-Options) first."""
        for part in reversed(self.parts):
            if hasattr(part, "process_response"):
                response = part.process_response(request, response)
            else:  # PermissionsPolicyMiddleware has no process_response
                response = part._apply_headers(response)
        return response

    def _headers_for(self, request, secure: bool) -> tuple[tuple[str, tuple[str, str]], ...] | None:
        """The four's headers for an unvaried answer, or None when they depend on more (always slow)."""
        if secure in self._fixed:
            return self._fixed[secure]
        fixed = None
        csp_excludes = [
            (getattr(settings, name, None) or {}).get("EXCLUDE_URL_PREFIXES")
            for name in ("CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY")
        ]
        # DEBUG: django-csp leaves 404 and 500 answers alone; rare enough to take the slow path.
        if not any(csp_excludes) and not settings.DEBUG:
            probe = self._slow(request, HttpResponse())
            del probe.headers["Content-Type"]
            fixed = tuple(probe.headers._store.items())
        self._fixed[secure] = fixed
        return fixed

    def __call__(self, request):
        if self.security.redirect and not request.is_secure():
            redirect = self.security.process_request(request)
            if redirect is not None:  # answered by the outermost of the four: only it adds headers
                return self.security.process_response(request, redirect)
        response = self.get_response(request)
        fixed = self._headers_for(request, request.is_secure())
        if fixed is None or not _VARIED_BY.isdisjoint(response.__dict__):
            return self._slow(request, response)
        # The headers' own store, as ResponseHeaders.__setitem__ fills it: (lowercase name ->
        # (name, value)); the values were checked when the probe's headers were set.
        store = response.headers._store
        if any(name in store for name, _ in fixed):
            return self._slow(request, response)
        store.update(fixed)
        return response


def _no_response(request):  # the inner layer of the four middlewares used as parts
    raise AssertionError("FixedSecurityHeadersMiddleware calls its parts' methods, not the parts")

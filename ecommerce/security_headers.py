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

"""/healthz and /readyz for a load balancer, and JSON errors for JSON clients (issue 11).

The health middleware is the first in MIDDLEWARE and answers before sessions, authentication,
CSRF, throttles and the host check run: a probe must stay cheap and must not fail because Redis
is down (the site still serves without it).
- /healthz: the process is up. Always 200.
- /readyz: database, cache, broker and model artifacts, each named in the JSON body. 503 only
  when a required check fails (READYZ_REQUIRED, default: the database); a down cache or broker
  makes the site slower, not unavailable, so pulling every instance out of the balancer at once
  would turn a Redis outage into a full outage.

JSON clients (paths under /api/, or Accept: application/json) never get Django's HTML error
page: a backing service down answers 503 with Retry-After, anything else a JSON 500.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from .resilience import breaker_for, dependency_name, is_dependency_error, rate_limited_log

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 10
# The broker check opens a connection: remember its answer this long per process.
BROKER_CHECK_SECONDS = 5.0

_broker_state: dict[str, Any] = {"at": -1e9, "result": None}
_broker_lock = threading.Lock()


# ---------------------------------------------------------------------------------------------
# Checks: each returns a small dict with "ok" and never raises.


def _check_database() -> dict[str, Any]:
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        return {"ok": False, "error": type(error).__name__}
    return {"ok": True}


def _check_cache() -> dict[str, Any]:
    from django.core.cache import cache

    if not settings.SHARED_CACHE:
        return {"ok": True, "mode": "local"}
    ping = getattr(cache, "ping", None)
    try:
        if ping is not None:
            ok = bool(ping())
        else:
            cache.set("readyz", 1, 5)
            ok = cache.get("readyz") == 1
    except Exception as error:
        return {"ok": False, "error": type(error).__name__}
    return {"ok": ok} if ok else {"ok": False, "error": "unreachable"}


def _check_broker() -> dict[str, Any]:
    from celery import current_app

    if current_app.conf.task_always_eager:
        return {"ok": True, "mode": "eager"}
    if breaker_for("broker").is_open:  # a publish just failed (ecommerce/outbox.py)
        return {"ok": False, "error": "BrokerUnavailable"}
    now = time.monotonic()
    with _broker_lock:
        if now - _broker_state["at"] < BROKER_CHECK_SECONDS and _broker_state["result"] is not None:
            return _broker_state["result"]
    timeout = settings.OUTBOX_PUBLISH_TIMEOUT
    try:
        with current_app.connection_for_write(
            connect_timeout=timeout,
            transport_options={
                **(current_app.conf.broker_transport_options or {}),
                "socket_connect_timeout": timeout,
                "socket_timeout": timeout,
                "max_retries": 0,
            },
        ) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
            conn.default_channel  # noqa: B018 - the Redis transport connects lazily
        result: dict[str, Any] = {"ok": True}
    except Exception as error:
        breaker_for("broker").failure(error)
        result = {"ok": False, "error": type(error).__name__}
    with _broker_lock:
        _broker_state.update(at=time.monotonic(), result=result)
    return result


def _check_models() -> dict[str, Any]:
    """Active model versions this host cannot load: no stored bytes in the database and no local
    copy (serving then uses its fallback)."""
    from django.db.models import Exists, OuterRef

    from .models import ModelArtifact, ModelVersion

    try:
        rows = list(
            ModelVersion.objects.filter(status="active")
            .annotate(stored=Exists(ModelArtifact.objects.filter(version_id=OuterRef("pk"))))
            .values_list("name", "artifact_path", "stored")
        )
    except Exception as error:
        return {"ok": False, "error": type(error).__name__}
    root = Path(settings.ML_ARTIFACT_ROOT)
    missing = sorted(name for name, path, stored in rows if not stored and (not path or not (root / path).is_file()))
    return {"ok": not missing, "active": len(rows), "missing": missing}


CHECKS: dict[str, Callable[[], dict[str, Any]]] = {
    "database": _check_database,
    "cache": _check_cache,
    "broker": _check_broker,
    "models": _check_models,
}


def readiness() -> tuple[bool, dict[str, Any]]:
    required = set(settings.READYZ_REQUIRED)
    checks: dict[str, Any] = {}
    ready = True
    for name, check in CHECKS.items():
        started = time.perf_counter()
        result = check()
        result["required"] = name in required
        result["ms"] = round((time.perf_counter() - started) * 1000, 1)
        checks[name] = result
        if result["required"] and not result["ok"]:
            ready = False
    degraded = any(not result["ok"] for result in checks.values())
    status = "fail" if not ready else ("degraded" if degraded else "ok")
    return ready, {"status": status, "checks": checks}


class HealthCheckMiddleware:
    """Answers /healthz and /readyz before any other middleware (no session, no throttle)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info.rstrip("/")
        if path == "/healthz":
            return _no_store(JsonResponse({"status": "ok"}))
        if path == "/readyz":
            ready, body = readiness()
            response = JsonResponse(body, status=200 if ready else 503)
            if not ready:
                response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return _no_store(response)
        return self.get_response(request)


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------------------------------------
# JSON errors


def wants_json(request: HttpRequest) -> bool:
    if request.path_info.startswith("/api/"):
        return True
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_response(exc: BaseException | None) -> JsonResponse:
    """503 + Retry-After when a backing service is down, else 500; the body says which."""
    if exc is not None and is_dependency_error(exc):
        response = JsonResponse(
            {
                "detail": "A service this request needs is temporarily unavailable. Try again shortly.",
                "code": "service_unavailable",
                "service": dependency_name(exc),
            },
            status=503,
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return JsonResponse({"detail": "Internal server error.", "code": "server_error"}, status=500)


class JsonErrorMiddleware:
    """An exception from a view on a JSON path becomes a JSON 500/503, never the HTML page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not wants_json(request):
            return None
        _log(request, exception)
        return error_response(exception)


def _log(request: HttpRequest, exc: BaseException) -> None:
    if is_dependency_error(exc):  # an outage: one line per minute, not a traceback per request
        rate_limited_log.warning("http.dependency_unavailable", service=dependency_name(exc), path=request.path_info)
    else:
        logger.error("http.server_error", exc_info=exc, extra={"path": request.path_info})


def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """handler500: JSON for JSON clients (also for errors raised in middleware), else HTML.

    Django calls it inside its `except` block, so the exception is in sys.exc_info().
    """
    exc = sys.exc_info()[1]
    if wants_json(request):
        return error_response(exc)
    if exc is not None and is_dependency_error(exc):
        response = defaults.server_error(request, template_name=template_name)
        response.status_code = 503
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return defaults.server_error(request, template_name=template_name)

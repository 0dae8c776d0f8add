"""Read replicas: which queries may read from `replica`, and which must stay on the primary.

With DATABASE_REPLICA_URL set (ecommerce/settings.py) there is a second alias, `replica`, a
PostgreSQL streaming standby. Nothing reads from it unless a piece of work opts in:

- the request middleware opts in GET/HEAD requests whose URL name matches
  DATABASE_REPLICA_VIEWS (analytics dashboards and their API, the ad campaign report, every
  admin changelist);
- code outside a request (a report export, a benchmark) opts in with `with replica_reads():`.

Even then a read goes to the primary when
- the request (or block) has already written: the first write pins it to the primary for the
  rest of its life, so it reads what it wrote;
- a write happened in the last DATABASE_REPLICA_PIN_SECONDS for this browser (a short cookie
  set by the writing request): the admin's "saved" -> changelist redirect shows the new row;
- the primary is inside a transaction (a consistent view, select_for_update);
- the model is a session, lockout or permission row (tiny, and must be current; customers
  themselves are analytics data and may come from the replica: a login's own write pins).

Celery tasks never opt in, so a task that writes reads the primary. Writes and migrations
always use `default`. Without DATABASE_REPLICA_URL every alias lookup answers `default`.
"""

from __future__ import annotations

import contextlib
import fnmatch
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse

REPLICA_DB_ALIAS = "replica"
PIN_COOKIE = "db_pin"
# Reads of these apps never go to the replica (sessions, lockouts, groups and permissions).
PRIMARY_ONLY_APPS = frozenset({"sessions", "auth", "axes", "contenttypes", "admin"})


@dataclass
class _ReadState:
    replica: bool = False  # this unit of work may read from the replica
    pinned: bool = False  # ... but it wrote (or must see a recent write): primary only
    wrote: bool = False


_state: ContextVar[_ReadState | None] = ContextVar("db_read_state", default=None)


def replica_configured() -> bool:
    return REPLICA_DB_ALIAS in settings.DATABASES


@contextlib.contextmanager
def replica_reads(*, pinned: bool = False) -> Iterator[_ReadState]:
    """Reads inside the block may go to the replica (until the block writes)."""
    state = _ReadState(replica=True, pinned=pinned)
    token = _state.set(state)
    try:
        yield state
    finally:
        _state.reset(token)


@contextlib.contextmanager
def primary_reads() -> Iterator[None]:
    """Reads inside the block go to the primary, whatever the surrounding request opted into."""
    token = _state.set(_ReadState(replica=False))
    try:
        yield
    finally:
        _state.reset(token)


def read_alias(model=None) -> str:
    """The alias a read of `model` uses now (the router's answer, also for raw SQL cursors)."""
    state = _state.get()
    if state is None or not state.replica or state.pinned or not replica_configured():
        return DEFAULT_DB_ALIAS
    if model is not None and model._meta.app_label in PRIMARY_ONLY_APPS:
        return DEFAULT_DB_ALIAS
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        # Inside a transaction on the primary: read the same snapshot we write to.
        return DEFAULT_DB_ALIAS
    return REPLICA_DB_ALIAS


class ReplicaRouter:
    """DATABASE_ROUTERS entry: reads per `read_alias`, every write and migration on `default`."""

    def db_for_read(self, model, **hints) -> str:
        return read_alias(model)

    def db_for_write(self, model, **hints) -> str:
        state = _state.get()
        if state is not None:
            state.pinned = state.wrote = True  # read-after-write: the rest of this unit reads the primary
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        # Both aliases hold the same rows: a row read from the replica may relate to a new one.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        return db == DEFAULT_DB_ALIAS


def _view_reads_replica(request: HttpRequest) -> bool:
    match = getattr(request, "resolver_match", None)
    if match is None or request.method not in ("GET", "HEAD"):
        return False
    name = match.view_name or ""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in settings.DATABASE_REPLICA_VIEWS)


class ReplicaRoutingMiddleware:
    """Opts the dashboard, report and changelist GETs into replica reads; pins after writes.

    A request that writes sets a short cookie so the same browser reads the primary for
    DATABASE_REPLICA_PIN_SECONDS (longer than the replica's normal lag), then the replica again.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not replica_configured():
            return self.get_response(request)
        state = _ReadState(replica=False, pinned=PIN_COOKIE in request.COOKIES)
        token = _state.set(state)
        try:
            response = self.get_response(request)
        finally:
            _state.reset(token)
        wrote = state.wrote or request.method not in ("GET", "HEAD", "OPTIONS")
        # Only signed-in users read replica views, so only they need the cookie (no cookie for
        # anonymous shoppers, whose page views write events).
        user = getattr(request, "user", None)
        if wrote and user is not None and user.is_authenticated:
            response.set_cookie(
                PIN_COOKIE,
                "1",
                max_age=settings.DATABASE_REPLICA_PIN_SECONDS,
                httponly=True,
                samesite="Lax",
                secure=request.is_secure(),
            )
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        state = _state.get()
        if state is not None and _view_reads_replica(request):
            state.replica = True
        return None

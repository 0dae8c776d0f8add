"""Login backend whose per-request user lookup is served from the shared cache.

Why: every request from a signed-in shopper loads its user row (Django's AuthenticationMiddleware
calls `backend.get_user`). On the serving benchmark that one query was half of a personal
recommendation request (docs/benchmarks/recommendations.md). With a shared cache (Redis) the row
is read from the cache instead, and every write to the user drops the entry, in all processes.

Staleness is the risk, so:
- `post_save` / `post_delete` on User forget the entry at once and again when the transaction
  commits; code that writes users with `QuerySet.update()` must call `user_cache_forget` itself
  (signals do not fire there).
- Forgetting leaves a short-lived tombstone and a reader stores a row with `cache.add`, so a
  request that read the row just before a change cannot put the old row back.
- The password hash stays inside the cached row, so Django's session-hash check still logs out
  other sessions after a password change, and `is_active` is checked on every request.
- Off (plain ModelBackend behaviour) when AUTH_USER_CACHE_SECONDS is 0, which the settings choose
  for the per-process LocMem cache: one process cannot tell the others to forget. With a shared
  cache, every process writes tombstones whatever its own AUTH_USER_CACHE_SECONDS (a Celery worker
  or `manage.py changepassword` must still reach the web servers' cache).
- If the cache is down, users are read from the database; a tombstone that cannot be written is
  logged, and the row it should have dropped expires within AUTH_USER_CACHE_SECONDS.
"""

from __future__ import annotations

import logging
from typing import Any

import django
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.db import transaction

from .cache_batch import MISSING, batched_forget, batched_value
from .cache_copies import track_prefix

TOMBSTONE = "forgotten"
# Longer than any request takes from reading the row to storing it; a login (which saves
# last_login) therefore costs that many seconds of uncached lookups, which is harmless.
TOMBSTONE_SECONDS = 10
# Pickled model instances belong to one Django version (and it warns on others): new key space.
KEY_PREFIX = f"auth:user:{django.__version__}:"
track_prefix(KEY_PREFIX)  # read on every signed-in request: copies per process (ecommerce/cache_copies.py)

logger = logging.getLogger(__name__)


def user_cache_key(user_id: Any) -> str:
    return f"{KEY_PREFIX}{user_id}"


def _forgetting_enabled() -> bool:
    return bool(settings.AUTH_USER_CACHE_SECONDS or settings.SHARED_CACHE)


def _write_tombstones(keys: list[str]) -> None:
    try:
        cache.set_many(dict.fromkeys(keys, TOMBSTONE), TOMBSTONE_SECONDS)
    except Exception:  # the cache is down: rows it holds expire within AUTH_USER_CACHE_SECONDS
        logger.exception("auth.user_cache_forget_failed", extra={"keys": len(keys)})


def user_cache_forget_many(user_ids: list[Any]) -> None:
    """Drop cached user rows now and once the current transaction (if any) commits."""
    if not _forgetting_enabled() or not user_ids:
        return
    keys = [user_cache_key(user_id) for user_id in user_ids]
    for key in keys:
        batched_forget(key)
    _write_tombstones(keys)
    transaction.on_commit(lambda: _write_tombstones(keys))


def user_cache_forget(user_id: Any) -> None:
    """Drop a user's cached row (post_save/post_delete do it; call it after QuerySet.update())."""
    user_cache_forget_many([user_id])


class CachedModelBackend(ModelBackend):
    """ModelBackend (username/password, permissions) with `get_user` read through the cache."""

    def get_user(self, user_id: Any):
        seconds = settings.AUTH_USER_CACHE_SECONDS
        if not seconds:
            return super().get_user(user_id)
        key = user_cache_key(user_id)
        cached = batched_value(key)  # fetched with the request's other reads (cache_batch)?
        try:
            if cached is MISSING:
                cached = cache.get(key)
        except Exception:  # the cache is down: the database still answers
            logger.warning("auth.user_cache_unavailable", exc_info=True)
            return super().get_user(user_id)
        if not isinstance(cached, get_user_model()):  # a miss or a tombstone
            user = super().get_user(user_id)  # None when missing or inactive
            if user is not None and cached is None:
                try:
                    cache.add(key, user, seconds)  # add: never overwrites a tombstone set meanwhile
                except Exception:
                    logger.warning("auth.user_cache_unavailable", exc_info=True)
            return user
        return cached if self.user_can_authenticate(cached) else None

    async def aget_user(self, user_id: Any):
        return await sync_to_async(self.get_user)(user_id)


def forget_saved_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    """post_save / post_delete receiver for the user model."""
    user_cache_forget(instance.pk)

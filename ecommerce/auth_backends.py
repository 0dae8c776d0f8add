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
  for the per-process LocMem cache: one process cannot tell the others to forget.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.db import transaction

from .cache_batch import MISSING, batched_forget, batched_value

TOMBSTONE = "forgotten"
# Longer than any request takes from reading the row to storing it; a login (which saves
# last_login) therefore costs that many seconds of uncached lookups, which is harmless.
TOMBSTONE_SECONDS = 10


def user_cache_key(user_id: Any) -> str:
    return f"auth:user:{user_id}"


def user_cache_forget(user_id: Any) -> None:
    """Drop a user's cached row now and once the current transaction (if any) commits."""
    if not settings.AUTH_USER_CACHE_SECONDS:
        return
    key = user_cache_key(user_id)
    batched_forget(key)
    cache.set(key, TOMBSTONE, TOMBSTONE_SECONDS)
    transaction.on_commit(lambda: cache.set(key, TOMBSTONE, TOMBSTONE_SECONDS))


def user_cache_forget_many(user_ids: list[Any]) -> None:
    """user_cache_forget for a bulk write (bulk_update sends no signals)."""
    if not settings.AUTH_USER_CACHE_SECONDS or not user_ids:
        return
    tombstones = {user_cache_key(user_id): TOMBSTONE for user_id in user_ids}
    for key in tombstones:
        batched_forget(key)
    cache.set_many(tombstones, TOMBSTONE_SECONDS)
    transaction.on_commit(lambda: cache.set_many(tombstones, TOMBSTONE_SECONDS))


class CachedModelBackend(ModelBackend):
    """ModelBackend (username/password, permissions) with `get_user` read through the cache."""

    def get_user(self, user_id: Any):
        seconds = settings.AUTH_USER_CACHE_SECONDS
        if not seconds:
            return super().get_user(user_id)
        key = user_cache_key(user_id)
        cached = batched_value(key)  # fetched with the request's other reads (cache_batch)?
        if cached is MISSING:
            cached = cache.get(key)
        if cached is None or cached == TOMBSTONE:
            user = super().get_user(user_id)  # None when missing or inactive
            if user is not None and cached is None:
                cache.add(key, user, seconds)  # add: never overwrites a tombstone set meanwhile
            return user
        return cached if self.user_can_authenticate(cached) else None

    async def aget_user(self, user_id: Any):
        return await sync_to_async(self.get_user)(user_id)


def forget_saved_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    """post_save / post_delete receiver for the user model."""
    user_cache_forget(instance.pk)

"""The cached login lookup (ecommerce/auth_backends.py) is fast and never serves a stale user.

The cache is switched on per test (AUTH_USER_CACHE_SECONDS); in CI it is Redis, locally LocMem,
and the behaviour checked here is the same in both.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from ecommerce.auth_backends import TOMBSTONE, CachedModelBackend, user_cache_forget, user_cache_key
from ecommerce.models import User
from ecommerce.storefront.services import consent_record

ME = "/api/recommendations/me/?k=3"
PRIVACY_PAGE = "/account/privacy/"


def _tombstone_expired(user: User) -> None:
    """Creating or logging in a user saves it, which leaves a 10 s tombstone; skip that wait."""
    cache.delete(user_cache_key(user.pk))


def _signed_in(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    _tombstone_expired(user)
    return client


def _signed_in_and_cached(user: User) -> APIClient:
    """A signed-in client whose user row is in the cache (so the next check is about invalidation)."""
    client = _signed_in(user)
    assert client.get(PRIVACY_PAGE).wsgi_request.user.is_authenticated
    assert isinstance(cache.get(user_cache_key(user.pk)), User)
    return client


def _user_queries(captured: CaptureQueriesContext) -> list[str]:
    table = User._meta.db_table
    return [q["sql"] for q in captured.captured_queries if f'FROM "{table}"' in q["sql"]]


@pytest.mark.django_db
def test_second_request_reads_the_user_from_the_cache(cached_logins, user):
    client = _signed_in(user)
    with CaptureQueriesContext(connection) as first:
        assert client.get(PRIVACY_PAGE).status_code == 200
    with CaptureQueriesContext(connection) as second:
        response = client.get(PRIVACY_PAGE)
    assert response.status_code == 200
    assert response.wsgi_request.user.pk == user.pk
    assert len(_user_queries(first)) == 1
    assert _user_queries(second) == []


@pytest.mark.django_db
def test_without_the_setting_every_request_loads_the_user(settings, user):
    settings.AUTH_USER_CACHE_SECONDS = 0
    client = _signed_in(user)
    client.get(PRIVACY_PAGE)
    with CaptureQueriesContext(connection) as second:
        client.get(PRIVACY_PAGE)
    assert len(_user_queries(second)) == 1
    assert cache.get(user_cache_key(user.pk)) is None


@pytest.mark.django_db
def test_password_change_logs_out_other_sessions_despite_the_cache(cached_logins, user):
    client = _signed_in_and_cached(user)
    user.set_password("a-brand-new-passphrase")
    user.save()
    response = client.get(PRIVACY_PAGE)
    assert not response.wsgi_request.user.is_authenticated


@pytest.mark.django_db
def test_deactivated_user_is_signed_out_on_the_next_request(cached_logins, user):
    client = _signed_in_and_cached(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert not client.get(PRIVACY_PAGE).wsgi_request.user.is_authenticated


@pytest.mark.django_db
def test_deleted_user_is_signed_out_on_the_next_request(cached_logins, user):
    client = _signed_in_and_cached(user)
    User.objects.filter(pk=user.pk).delete()  # queryset delete still sends post_delete per row
    assert cache.get(user_cache_key(user.pk)) == TOMBSTONE
    assert not client.get(PRIVACY_PAGE).wsgi_request.user.is_authenticated


@pytest.mark.django_db
def test_profile_edits_show_on_the_next_request(cached_logins, user):
    client = _signed_in_and_cached(user)
    user.first_name = "Renamed"
    user.save()
    assert client.get(PRIVACY_PAGE).wsgi_request.user.first_name == "Renamed"


@pytest.mark.django_db
def test_consent_written_with_update_also_forgets_the_cached_row(cached_logins, user):
    _tombstone_expired(user)
    backend = CachedModelBackend()
    assert backend.get_user(user.pk).tracking_consent is False
    assert cache.get(user_cache_key(user.pk)).tracking_consent is False
    consent_record(user=User.objects.get(pk=user.pk), allowed=True)
    assert backend.get_user(user.pk).tracking_consent is True


@pytest.mark.django_db
def test_a_read_that_raced_a_change_cannot_put_the_old_row_back(cached_logins, user, monkeypatch):
    _tombstone_expired(user)
    read_from_database = ModelBackend.get_user

    def read_then_someone_saves(self, user_id):
        row = read_from_database(self, user_id)  # this request now holds the old row ...
        User.objects.filter(pk=user_id).update(first_name="Changed")  # ... another one writes
        user_cache_forget(user_id)
        return row

    monkeypatch.setattr(ModelBackend, "get_user", read_then_someone_saves)
    assert CachedModelBackend().get_user(user.pk).first_name != "Changed"
    assert cache.get(user_cache_key(user.pk)) == TOMBSTONE  # the old row was not stored
    monkeypatch.undo()
    assert CachedModelBackend().get_user(user.pk).first_name == "Changed"


@pytest.mark.django_db(transaction=True)
def test_a_change_inside_a_transaction_is_forgotten_again_at_commit(cached_logins, user):
    backend = CachedModelBackend()
    with transaction.atomic():
        user.first_name = "Committed"
        user.save()
        # Before commit another request could cache the old row once the tombstone expired.
        cache.set(user_cache_key(user.pk), User(pk=user.pk, username="old"), 300)
    assert cache.get(user_cache_key(user.pk)) == TOMBSTONE
    assert backend.get_user(user.pk).first_name == "Committed"


@pytest.mark.django_db
def test_signed_in_api_request_is_answered_for_that_user(cached_logins, user, other_user):
    mine, theirs = _signed_in(user), _signed_in(other_user)
    for _ in range(2):  # the second round is served from the cache
        assert mine.get(ME).wsgi_request.user.pk == user.pk
        assert theirs.get(ME).wsgi_request.user.pk == other_user.pk
    assert cache.get(user_cache_key(user.pk)).pk == user.pk
    assert cache.get(user_cache_key(other_user.pk)).pk == other_user.pk


@pytest.mark.django_db
def test_password_login_uses_the_cached_backend(cached_logins, user):
    client = APIClient()
    assert client.login(username=user.username, password="correct-horse-battery")
    assert client.session["_auth_user_backend"] == "ecommerce.auth_backends.CachedModelBackend"


@pytest.mark.django_db
def test_an_inactive_row_in_the_cache_does_not_sign_anyone_in(cached_logins, user):
    client = _signed_in_and_cached(user)
    inactive = User.objects.get(pk=user.pk)
    inactive.is_active = False
    cache.set(user_cache_key(user.pk), inactive, 300)  # as if the deactivation had been missed
    assert not client.get(PRIVACY_PAGE).wsgi_request.user.is_authenticated


@pytest.mark.django_db
def test_with_the_cache_down_users_come_from_the_database(cached_logins, user, monkeypatch):
    _signed_in_and_cached(user)

    def down(*args, **kwargs):
        raise ConnectionError("cache unavailable")

    for name in ("get", "add", "set_many"):
        monkeypatch.setattr(cache, name, down)
    assert CachedModelBackend().get_user(user.pk).pk == user.pk
    user.first_name = "Saved while the cache is down"
    user.save()  # the tombstone cannot be written: logged, the save still succeeds


@pytest.mark.django_db
def test_processes_without_the_login_cache_still_write_tombstones_to_a_shared_cache(settings, user):
    settings.AUTH_USER_CACHE_SECONDS = 0  # e.g. a Celery worker or manage.py changepassword
    settings.SHARED_CACHE = True
    user.set_password("changed-elsewhere-passphrase")
    user.save()
    assert cache.get(user_cache_key(user.pk)) == TOMBSTONE


@pytest.mark.django_db
def test_the_remembered_session_hash_is_djangos_and_follows_the_password(settings):
    """User._get_session_auth_hash remembers Django's HMAC: the same value, a new one when the
    password or the secret changes, and the fallback secrets still verify old sessions."""
    from django.contrib.auth.base_user import AbstractBaseUser

    user = User.objects.create_user("hash-check", password="first-password-1")
    first = user.get_session_auth_hash()
    assert first == AbstractBaseUser._get_session_auth_hash(user) == user.get_session_auth_hash()
    user.set_password("second-password-2")
    assert user.get_session_auth_hash() != first
    assert user.get_session_auth_hash() == AbstractBaseUser._get_session_auth_hash(user)
    old_secret = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-secret-" + "x" * 50, [old_secret]
    assert user.get_session_auth_hash() == AbstractBaseUser._get_session_auth_hash(user)
    assert next(user.get_session_auth_fallback_hash()) == AbstractBaseUser._get_session_auth_hash(
        user, secret=old_secret
    )

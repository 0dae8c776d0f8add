"""Signed-in session keys carry the user id as a hint (ecommerce/sessions.py), never as identity."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY, update_session_auth_hash
from django.core.cache import cache
from django.test import RequestFactory
from rest_framework.test import APIClient

from ecommerce.api.throttling import CounterScopedRateThrottle
from ecommerce.sessions import SessionStore, base36, session_user_hint

ME = "/api/recommendations/me/?k=3"


@pytest.fixture
def hinted_sessions(settings):
    settings.SESSION_ENGINE = "ecommerce.sessions"


def test_base36_round_trips():
    for number in (0, 1, 35, 36, 4372, 2**53):
        assert int(base36(number), 36) == number


@pytest.mark.parametrize(
    "key",
    [None, "", "a" * 32, "a" * 28 + "_", "a" * 28 + "_" + "z" * 12, "a" * 28 + "_1-2", "a" * 28 + "_١٢"],
)
def test_keys_without_a_valid_hint_give_none(key):
    assert session_user_hint(key) is None


@pytest.mark.django_db
def test_login_issues_a_key_carrying_the_user_id(hinted_sessions, user):
    client = APIClient()
    assert client.login(username=user.username, password="correct-horse-battery")
    key = client.session.session_key
    assert session_user_hint(key) == user.pk
    assert len(key) <= 40
    assert client.get(ME).wsgi_request.user.pk == user.pk


@pytest.mark.django_db
@pytest.mark.parametrize("user_id", [36**11, -5])
def test_ids_that_would_not_fit_a_session_key_get_a_plain_key(hinted_sessions, user_id):
    store = SessionStore()
    store[SESSION_KEY] = str(user_id)
    store.create()
    assert len(store.session_key) == 32
    assert session_user_hint(store.session_key) is None


@pytest.mark.django_db
def test_anonymous_sessions_get_plain_keys(hinted_sessions):
    store = SessionStore()
    store["cart"] = [1]
    store.create()
    assert len(store.session_key) == 32
    assert session_user_hint(store.session_key) is None


@pytest.mark.django_db
def test_logout_ends_the_hinted_session(hinted_sessions, user):
    client = APIClient()
    client.force_login(user)
    hinted_key = client.session.session_key
    assert client.post("/accounts/logout/").status_code == 302
    assert not SessionStore().exists(hinted_key)
    assert session_user_hint(client.cookies["sessionid"].value) is None
    assert not client.get(ME).wsgi_request.user.is_authenticated


@pytest.mark.django_db
def test_password_change_keeps_the_signed_in_session_hinted(hinted_sessions, user):
    request = RequestFactory().get("/")
    request.session = SessionStore()
    request.user = user
    from django.contrib.auth import login

    login(request, user, backend="ecommerce.auth_backends.CachedModelBackend")
    first_key = request.session.session_key
    user.set_password("another-long-passphrase")
    user.save()
    update_session_auth_hash(request, user)
    assert request.session.session_key != first_key
    assert session_user_hint(request.session.session_key) == user.pk


@pytest.mark.django_db
def test_a_forged_key_naming_someone_is_anonymous_and_leaves_their_rate_limit_alone(hinted_sessions, user, other_user):
    forged = "a" * 28 + "_" + base36(user.pk)
    attacker = APIClient()
    attacker.cookies["sessionid"] = forged
    response = attacker.get(ME)
    assert response.status_code == 200
    assert not response.wsgi_request.user.is_authenticated
    key, _ = CounterScopedRateThrottle.expected_counter(response.wsgi_request, "recommendations", str(user.pk))
    assert cache.get(key) in (None, 0)  # the batch's count for the named user was given back

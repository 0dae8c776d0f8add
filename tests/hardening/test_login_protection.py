"""Issue 10, item 4: repeated wrong passwords lock a username or an address out (django-axes)."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def _attempt(client: Client, path: str, username: str, password: str, ip: str = "203.0.113.7"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.fixture
def shopper():
    user = UserFactory()
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def superuser():
    return get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)


def test_storefront_login_locks_after_ten_failures_even_for_the_right_password(client, shopper, settings):
    # given nine failures, the right password still works
    for _ in range(9):
        assert _attempt(client, "/accounts/login/", shopper.username, "wrong").status_code == 200
    assert _attempt(client, "/accounts/login/", shopper.username, PASSWORD).status_code == 302
    client.logout()

    # when the tenth failure comes
    assert _attempt(client, "/accounts/login/", shopper.username, "wrong").status_code == 429
    response = _attempt(client, "/accounts/login/", shopper.username, PASSWORD)

    # then the right password is refused too, on the login form with a clear message
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many failed login attempts" in body and "15 minutes" in body
    assert 'name="password"' in body
    assert "_auth_user_id" not in client.session


def test_lockout_is_per_username_from_any_address(client, shopper):
    for n in range(10):
        _attempt(client, "/accounts/login/", shopper.username, "wrong", ip=f"198.51.100.{n}")

    assert _attempt(client, "/accounts/login/", shopper.username, PASSWORD, ip="192.0.2.99").status_code == 429


def test_lockout_is_per_address_for_any_username(client, shopper):
    for n in range(10):
        _attempt(client, "/accounts/login/", f"guess{n}", "wrong")

    assert _attempt(client, "/accounts/login/", shopper.username, PASSWORD).status_code == 429
    # another address is not affected
    assert _attempt(Client(), "/accounts/login/", shopper.username, PASSWORD, ip="192.0.2.1").status_code == 302


def test_admin_login_locks_out_too(client, superuser):
    for _ in range(10):
        _attempt(client, "/admin/login/", superuser.username, "wrong")

    response = _attempt(client, "/admin/login/", superuser.username, PASSWORD)

    assert response.status_code == 429
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_lockout_ends_after_the_cool_off(client, shopper, settings):
    for _ in range(10):
        _attempt(client, "/accounts/login/", shopper.username, "wrong")
    assert _attempt(client, "/accounts/login/", shopper.username, PASSWORD).status_code == 429

    # the failures are older than the cool-off (15 minutes)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    assert _attempt(client, "/accounts/login/", shopper.username, PASSWORD).status_code == 302


def test_lockout_is_logged_with_the_user_id_only(client, shopper, caplog):
    for _ in range(10):
        _attempt(client, "/accounts/login/", shopper.username, "wrong")

    with caplog.at_level("WARNING"):
        _attempt(client, "/accounts/login/", shopper.username, PASSWORD)

    records = [r for r in caplog.records if r.getMessage() == "auth.login_locked_out"]
    assert records and records[0].user_id == shopper.pk
    assert all(shopper.username not in r.getMessage() for r in caplog.records)


def test_superuser_sees_lockouts_in_the_admin(client, shopper, superuser):
    for _ in range(10):
        _attempt(client, "/accounts/login/", shopper.username, "wrong")
    client.force_login(superuser)

    response = client.get("/admin/axes/accessattempt/")

    assert response.status_code == 200
    assert shopper.username in response.content.decode()


def test_test_client_login_without_a_request_still_works(shopper):
    assert Client().login(username=shopper.username, password=PASSWORD)

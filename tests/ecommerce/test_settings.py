"""Production settings refuse to start half-configured, and pass Django's deploy checks when set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

MANAGE = Path(settings.BASE_DIR) / "manage.py"
PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "x7Qp2vLk9RmT4wYz8NcB3hJf6GdS1aUe5KoXiVn0Mq-_rPtWyZlCbEuHsDgAjFkL",
    "DJANGO_ALLOWED_HOSTS": "shop.example.com",
    "DATABASE_URL": "postgres://shop:secret@127.0.0.1:5432/shop",
}


def _check(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run `manage.py check` with ONLY `env` (plus PATH): nothing leaks in from the test run."""
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run([sys.executable, str(MANAGE), "check", *args], env=clean, cwd=settings.BASE_DIR,
                          capture_output=True, text=True, timeout=120, check=False)


def test_settings_production_without_secret_key_refuses_to_start():
    result = _check({k: v for k, v in PRODUCTION.items() if k != "DJANGO_SECRET_KEY"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_settings_production_without_allowed_hosts_refuses_to_start():
    result = _check({k: v for k, v in PRODUCTION.items() if k != "DJANGO_ALLOWED_HOSTS"})
    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS must be set" in result.stderr


def test_settings_production_without_postgresql_refuses_to_start():
    result = _check({**PRODUCTION, "DATABASE_URL": "sqlite:////tmp/prod.sqlite3"})
    assert result.returncode != 0
    assert "needs a PostgreSQL DATABASE_URL" in result.stderr


def test_settings_production_passes_deploy_checks_without_warnings():
    result = _check(PRODUCTION, "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_settings_embedded_default_starts_with_nothing_set(tmp_path):
    result = _check({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    assert result.returncode == 0, result.stderr
    assert "random temporary key" in result.stderr


def test_settings_production_passes_the_security_checks():
    result = _check(PRODUCTION, "--deploy", "--tag", "security", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr + result.stdout


def _session_and_login_cache(env: dict[str, str]) -> list[str]:
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"), **env}
    code = "from django.conf import settings; print(settings.SESSION_ENGINE, settings.AUTH_USER_CACHE_SECONDS)"
    result = subprocess.run([sys.executable, str(MANAGE), "shell", "-c", code], env=clean, cwd=settings.BASE_DIR,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1].split()  # after "N objects imported automatically"


def test_settings_cache_sessions_and_logins_only_with_a_shared_cache(tmp_path):
    sqlite = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    # LocMem is per process: another gunicorn worker would keep a logged-out session alive.
    assert _session_and_login_cache(sqlite) == ["django.contrib.sessions.backends.db", "0"]
    shared = {**sqlite, "CACHE_URL": "redis://127.0.0.1:6379/15"}
    assert _session_and_login_cache(shared) == ["ecommerce.sessions", "300"]


def test_settings_production_refuses_login_caching_without_a_shared_cache():
    result = _check({**PRODUCTION, "AUTH_USER_CACHE_SECONDS": "300"})
    assert result.returncode != 0
    assert "need a shared cache (CACHE_URL)" in result.stderr

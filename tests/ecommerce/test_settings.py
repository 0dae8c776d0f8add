"""Production settings refuse to start half-configured, and pass Django's deploy checks when set."""

from __future__ import annotations

import os
import re
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
    return subprocess.run(
        [sys.executable, str(MANAGE), "check", *args],
        env=clean,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


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
    result = subprocess.run(
        [sys.executable, str(MANAGE), "shell", "-c", code],
        env=clean,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
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


def test_every_environment_variable_the_settings_read_is_in_env_example():
    # given the variables ecommerce/settings.py reads (the only module that reads the environment)
    source = (Path(settings.BASE_DIR) / "ecommerce" / "settings.py").read_text()
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z0-9_]+)"', source))
    documented = set(re.findall(r"^#? ?([A-Z0-9_]+)=", (Path(settings.BASE_DIR) / ".env.example").read_text(), re.M))
    # then each one is documented
    assert read, "the pattern found no env reads: update this test with the settings' style"
    assert sorted(read - documented) == []


def test_per_app_settings_parse_the_values_env_example_shows():
    # given the per-app variables exactly as .env.example writes them
    example = (Path(settings.BASE_DIR) / ".env.example").read_text().split("# Per-app settings", 1)[1]
    env = dict(re.findall(r"^([A-Z0-9_]+)=(.*)$", example, re.M))
    env.update(
        {
            "ADS_SLOT_SIZES": "listing=3,search=1,product=1",
            "SUPPORT_AUTO_ASSIGN": "1",
            "RECOMMENDATIONS_THREADS": "4",
            "ADS_RESERVE_CPC": "0.07",
        }
    )
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"), **env}
    code = (
        "from django.conf import settings as s; print(repr((s.ADS_SLOT_SIZES, s.SUPPORT_AUTO_ASSIGN, "
        "s.RECOMMENDATIONS_THREADS, str(s.ADS_RESERVE_CPC), s.ADS_PACING, s.ANALYTICS_EXACT_ACTOR_DAYS)))"
    )
    # when Django starts with them
    result = subprocess.run(
        [sys.executable, str(MANAGE), "shell", "-c", code],
        env=clean,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # then each comes out typed
    assert result.returncode == 0, result.stderr
    expected = ({"listing": 3, "search": 1, "product": 1}, True, 4, "0.07", True, 5000)
    assert result.stdout.strip().splitlines()[-1] == repr(expected)

"""Test settings: the normal settings plus what only tests need."""

import tempfile

from .settings import *  # noqa: F403
from .settings import REST_FRAMEWORK

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests check throttling explicitly; elsewhere high limits keep it out of the way.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": dict.fromkeys(REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "100000/min"),
}

# The router is always active in tests: without DATABASE_REPLICA_URL the `replica` alias is a
# test mirror of default (same test database, own connection), so routing code runs everywhere.
if "replica" not in DATABASES:  # noqa: F405
    DATABASES["replica"] = {**DATABASES["default"]}  # noqa: F405
DATABASES["replica"]["TEST"] = {"MIRROR": "default"}  # noqa: F405

# Ad impressions spooled by this test process (advertising/spool.py): its own directory, and no
# flusher thread, so a test sees records move only when it flushes (tests of the thread start one).
ADS_SPOOL_DIR = tempfile.mkdtemp(prefix="ad-spool-tests-")
ADS_SPOOL_SHIP_SECONDS = 0

"""WSGI entry for the API benchmark: the real site plus one bare Django JSON view, same process.

Used only by benchmarks/recommendations_api.py (gunicorn --pythonpath benchmarks
recommendations_bench_wsgi:application). The bare view goes through the same middleware stack,
so the comparison isolates what the recommendations endpoints add.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecommerce.settings")

import django  # noqa: E402
from django.conf import settings  # noqa: E402

django.setup()
settings.ROOT_URLCONF = "recommendations_bench_urls"
# Experiment knob: e.g. django.contrib.sessions.backends.cached_db, to see what a cached session
# engine would do for logged-in endpoints (a core setting; not changed in the project).
if os.environ.get("RECS_BENCH_SESSION_ENGINE"):
    settings.SESSION_ENGINE = os.environ["RECS_BENCH_SESSION_ENGINE"]

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()

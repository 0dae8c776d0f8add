"""Advertising tests serve through the impression buffer: the shared Redis when the tests run
with one (CI: CACHE_URL=redis://...), else the in-process buffer with the same semantics."""

import pytest
from django.conf import settings as django_settings


def buffered_backend() -> str:
    return "redis" if django_settings.SHARED_CACHE else "memory"


@pytest.fixture(autouse=True)
def _impression_buffer(settings):
    from advertising import buffer, services
    from advertising.selectors import live_version_forget

    settings.ADS_BUFFER = buffered_backend()
    buffer.memory.clear()  # the Redis list and counters go with the cache.clear() of tests/conftest.py
    live_version_forget()  # per-process memory of the cleared cache's snapshot version
    services._auction_memo.clear()
    yield
    buffer.memory.clear()
    live_version_forget()


@pytest.fixture
def flush():
    """Run the beat task's work now, as the worker would: bulk insert + settlement."""
    from advertising.tasks import flush_impressions_task

    return lambda: flush_impressions_task.apply().get()

"""One cache round trip per serving request (ecommerce/cache_batch.py).

Runs against the configured cache: Redis in CI (a pipeline), LocMem locally (plain calls).
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from ecommerce import cache_batch
from ecommerce.auth_backends import user_cache_key
from ecommerce.cache_batch import MISSING, batched_count, batched_value


def test_batch_reads_values_and_counts_once():
    cache.set("batch:a", {"x": 1})
    cache.set("batch:n", 7)
    with cache_batch.cache_batch(keys=["batch:a", "batch:n", "batch:absent"], counters=[("batch:c", 60)]):
        assert batched_value("batch:a") == {"x": 1}
        assert batched_value("batch:n") == 7
        assert batched_value("batch:absent") is None  # asked for, not in the cache
        assert batched_value("batch:other") is MISSING  # not asked for: read it yourself
        assert batched_count("batch:c") == 1
        assert batched_count("batch:c") is None  # a count is used once
    assert batched_value("batch:a") is MISSING  # outside the block nothing is batched
    with cache_batch.cache_batch(counters=[("batch:c", 60)]):
        assert batched_count("batch:c") == 2  # the same counter cache.incr would see
    assert cache.incr("batch:c") == 3


def test_an_error_reply_drops_the_connection_not_the_next_batch():
    """With Redis (CI), a batch whose counter hits a list (WRONGTYPE) fails as the pipeline
    failed; the connection still holding the later replies must not serve the next batch.
    LocMem has no connection: the same two batches must simply answer."""
    backend = cache_batch._redis_client()
    cache.set("batch:a", "first")
    if backend is not None:
        import redis

        backend.get_client(write=True).rpush(backend.make_key("batch:list"), "x")
        with (
            pytest.raises(redis.exceptions.ResponseError),
            cache_batch.cache_batch(keys=["batch:a"], counters=[("batch:list", 60), ("batch:c", 60)]),
        ):
            pass
    else:
        with cache_batch.cache_batch(keys=["batch:a"], counters=[("batch:c", 60)]):
            assert batched_value("batch:a") == "first"
    # The failed batch's unread reply (the second counter's) must not answer the next batch.
    cache.set("batch:b", "second")
    with cache_batch.cache_batch(keys=["batch:b", "batch:a"], counters=[("batch:d", 60)]):
        assert batched_value("batch:b") == "second"
        assert batched_value("batch:a") == "first"
        assert batched_count("batch:d") == 1


@pytest.mark.django_db
def test_a_user_saved_during_the_request_is_read_again(cached_logins, user):
    key = user_cache_key(user.pk)
    with cache_batch.cache_batch(keys=[key]):
        assert batched_value(key) is not MISSING
        user.first_name = "Changed"
        user.save()
        assert batched_value(key) is MISSING


class _CacheCallCounter:
    """Counts cache calls made outside cache_batch's own fetch (each is a round trip on Redis)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.outside: list[str] = []
        self.batches = 0
        inside = [False]
        real_fetch = cache_batch._fetch

        def fetch(keys, counters):
            self.batches += 1
            inside[0] = True
            try:
                return real_fetch(keys, counters)
            finally:
                inside[0] = False

        monkeypatch.setattr(cache_batch, "_fetch", fetch)
        for name in ("get", "get_many", "set", "add", "incr", "delete"):
            real = getattr(cache, name)

            def counted(*args, _real=real, _name=name, **kwargs):
                if not inside[0]:
                    self.outside.append(_name)
                return _real(*args, **kwargs)

            monkeypatch.setattr(cache, name, counted)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("engine", "reads_outside_the_batch"),
    [
        # Signed-in keys carry the user id: the session comes with the batch.
        ("ecommerce.sessions", []),
        # Plain cached_db: the session is read first, then the batch.
        ("django.contrib.sessions.backends.cached_db", ["get"]),
    ],
)
def test_signed_in_recommendations_take_one_batch(
    cached_logins, settings, user, monkeypatch, engine, reads_outside_the_batch
):
    settings.SESSION_ENGINE = engine
    client = APIClient()
    client.force_login(user)
    cache.delete(user_cache_key(user.pk))  # the login's tombstone (see test_auth_cache)
    for _ in range(2):  # fill the user row and the answer
        assert client.get("/api/recommendations/me/?k=3").status_code == 200
    calls = _CacheCallCounter(monkeypatch)
    response = client.get("/api/recommendations/me/?k=3")
    assert response.status_code == 200
    assert response.wsgi_request.user.pk == user.pk
    assert calls.batches == 1
    assert calls.outside == reads_outside_the_batch


@pytest.mark.django_db
def test_anonymous_product_neighbours_need_no_round_trip_while_held_in_the_process(product_factory_pair, monkeypatch):
    """The same answer for everyone, kept in this process: no read, and the rate-limit count
    comes from the process's reserved block (ecommerce/counter_leases.py)."""
    client = APIClient()
    url = f"/api/products/{product_factory_pair}/similar/?k=3"
    first = client.get(url)
    assert first.status_code == 200
    calls = _CacheCallCounter(monkeypatch)
    again = client.get(url)
    assert again.status_code == 200
    assert again.content == first.content
    assert calls.batches == 0
    assert calls.outside == []


@pytest.mark.django_db
def test_a_held_answer_is_checked_against_the_generation_every_second(product_factory_pair, monkeypatch):
    """Another process's retrain (a bump this process did not see) shows within a second."""
    from recommendations.api import local_answers
    from recommendations.selectors import GENERATION_KEY

    client = APIClient()
    url = f"/api/products/{product_factory_pair}/similar/?k=3"
    assert client.get(url).status_code == 200
    cache.incr(GENERATION_KEY)  # as another process's bump: this process's copies are not forgotten
    calls = _CacheCallCounter(monkeypatch)
    assert client.get(url).status_code == 200
    assert calls.batches == 0  # within the second: the held copy
    local_answers.generation_read_at -= local_answers.GENERATION_TRUST_SECONDS  # the second has passed
    assert client.get(url).status_code == 200
    assert calls.batches == 1  # read the generation and the answer again
    assert "set" in calls.outside  # the answer under the new generation was computed and stored
    assert local_answers.generation == cache.get(GENERATION_KEY)
    assert client.get(url).status_code == 200
    assert calls.batches == 1  # and held again


@pytest.mark.django_db
def test_a_held_answer_expires_and_can_be_switched_off(product_factory_pair, monkeypatch, settings):
    from recommendations.api import local_answers

    client = APIClient()
    url = f"/api/products/{product_factory_pair}/similar/?k=3"
    assert client.get(url).status_code == 200
    calls = _CacheCallCounter(monkeypatch)
    for key, (generation, body, stored_at) in list(local_answers.entries.items()):
        local_answers.entries[key] = (generation, body, stored_at - settings.RECOMMENDATIONS_LOCAL_CACHE_SECONDS)
    assert client.get(url).status_code == 200
    assert calls.batches == 1  # too old: read from the shared cache (and held again)
    settings.RECOMMENDATIONS_LOCAL_CACHE_SECONDS = 0
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200
    assert calls.batches == 3  # off: every request reads the shared cache


@pytest.fixture
def product_factory_pair(db) -> int:
    from tests.factories import ProductFactory

    product = ProductFactory()
    ProductFactory(category=product.category)
    return product.pk


@pytest.mark.django_db
def test_a_bad_k_is_still_a_400_with_batching(api_client):
    response = api_client.get("/api/recommendations/me/?k=0")
    assert response.status_code == 400
    assert "between 1 and" in response.json()["k"][0]

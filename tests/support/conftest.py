"""Support test fixtures: one small intent model trained per test session, served via the registry."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from tests.factories import StaffFactory, UserFactory


@pytest.fixture(scope="session")
def small_intent_model():
    """Trained once: 20 Bitext rows per intent + all our own examples (a few seconds on 2 cores)."""
    import random
    from collections import defaultdict

    from support.nlu.data import Examples, load_base_examples
    from support.nlu.intents import train_intent_model

    base = load_base_examples()
    rng = random.Random(1)
    by_intent = defaultdict(list)
    for i, source in enumerate(base.sources):
        if source == "bitext":
            by_intent[base.intents[i]].append(i)
    keep = {i for ids in by_intent.values() for i in rng.sample(ids, 20)}
    small = Examples()
    for i, (text, intent, source) in enumerate(zip(base.texts, base.intents, base.sources, strict=True)):
        if source != "bitext" or i in keep:
            small.add(text, intent, source)
    # The machine is shared: cache the fitted model on disk, keyed by the data and the NLU code,
    # so reruns skip the fit (any change to either trains afresh).
    import hashlib
    import tempfile
    from pathlib import Path

    import joblib

    import support.nlu as nlu_package

    digest = hashlib.sha256()
    for path in sorted(Path(nlu_package.__file__).parent.glob("*.py")) + sorted(
        (Path(nlu_package.__file__).parent.parent / "data").glob("*.csv*")
    ):
        digest.update(path.read_bytes())
    cache = Path(tempfile.gettempdir()) / f"support-test-intents-{digest.hexdigest()[:16]}.joblib"
    if cache.exists():
        return joblib.load(cache)
    model, _ = train_intent_model(small, seed=1)
    joblib.dump(model, cache)
    return model


@pytest.fixture
def active_intent_model(db, small_intent_model):
    """Registers and promotes the session model, so serving goes through the registry as in production."""
    from ecommerce.ml import model_version_promote, model_version_register

    version = model_version_register(
        name="support.intents", artifact=small_intent_model, metrics={"accuracy": 0.9}, primary_metric="accuracy"
    )
    model_version_promote(version=version)
    return small_intent_model


@pytest.fixture
def agent(db):
    user = UserFactory(username="agent_one", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="handle_conversations"))
    return user


@pytest.fixture
def agent_client(agent):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(agent)
    client.get("/support/chat/")  # sets the csrftoken cookie
    client.credentials(HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    return client


def csrf_client(user=None) -> APIClient:
    """A browser-like client: CSRF enforced, token taken from the cookie as the widget does."""
    client = APIClient(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    client.get("/support/chat/")
    client.credentials(HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    return client


@pytest.fixture
def shopper_client(user):
    return csrf_client(user)


@pytest.fixture
def guest_client(db):
    return csrf_client()


@pytest.fixture
def plain_staff(db):
    return StaffFactory(is_superuser=False)


@pytest.fixture(autouse=True)
def _fresh_support_caches():
    """The engine caches the active model and the catalog matcher for a few seconds: not across tests."""
    from support.engine import clear_caches

    clear_caches()
    yield
    clear_caches()

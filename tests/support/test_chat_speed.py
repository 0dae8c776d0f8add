"""The chat's fast paths give the answers of the slow ones (docs/benchmarks/support.md "Bot reply speed").

- Intent scores: support/nlu/serving.py sums per-block scores instead of calling the scikit-learn
  pipeline; it must agree with `pipeline.decision_function`, and anything it does not recognise is
  scored by scikit-learn.
- FAQ and policy texts are cached per process behind one stamp query: a merchant's edit shows up
  in the very next reply.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from support.nlu import serving
from support.nlu.intents import build_pipeline, calibrated_proba
from tests.ecommerce.test_cache_batch import _CacheCallCounter
from tests.support.test_chat_api import bot_reply, say, start

TEXTS = [
    "where is my order 536365?",
    "what payment methods do you take",
    "我的订单到哪了",
    "hello",
    "",
    "zzzz qqqq",  # nothing in the vocabulary: scores are the intercepts
]


def test_fast_scores_equal_the_pipelines_for_the_served_model(small_intent_model):
    pipeline = small_intent_model.pipeline
    for text in TEXTS:
        np.testing.assert_allclose(
            serving.decision_scores(pipeline, [text]), pipeline.decision_function([text]), rtol=1e-9, atol=1e-9
        )
    assert serving._plans[pipeline] is not None  # the fast path served, not the fallback
    batch = serving.decision_scores(pipeline, TEXTS)
    np.testing.assert_allclose(batch, pipeline.decision_function(TEXTS), rtol=1e-9, atol=1e-9)
    # The model's predictions on the serving path match its probabilities from scikit-learn's.
    for text in TEXTS[:4]:
        prediction = small_intent_model.predict_one(text)
        slow = calibrated_proba(pipeline, [text], small_intent_model.temperature)[0]
        assert prediction.best_intent == str(pipeline.classes_[int(np.argmax(slow))])
        assert prediction.confidence == pytest.approx(float(slow.max()), abs=1e-9)


def test_fast_scores_with_transformer_weights_and_a_tfidf_only_pipeline():
    texts = ["where is my parcel", "refund please", "hello there", "pay by card", "我的订单", "退款"]
    intents = ["track", "refund", "greet", "pay", "track", "refund"]
    pipeline = build_pipeline(seed=0, encoder=None)
    pipeline.set_params(features__transformer_weights={"char": 0.5, "word": 2.0})
    pipeline.fit(texts, intents)
    scores = serving.decision_scores(pipeline, ["where is my refund"])
    assert serving._plans[pipeline] is not None
    np.testing.assert_allclose(scores, pipeline.decision_function(["where is my refund"]), rtol=1e-9, atol=1e-9)


def test_other_shapes_are_scored_by_scikit_learn():
    from sklearn.feature_extraction.text import TfidfVectorizer

    plain = Pipeline([("tfidf", TfidfVectorizer()), ("clf", LogisticRegression())]).fit(
        ["apple banana", "cherry date", "elder fig"], ["x", "y", "z"]
    )
    np.testing.assert_array_equal(
        serving.decision_scores(plain, ["apple date"]), plain.decision_function(["apple date"])
    )
    assert serving._plans[plain] is None
    binary = build_pipeline(seed=0, encoder=None).fit(["yes please", "no thanks"], ["yes", "no"])
    np.testing.assert_array_equal(serving.decision_scores(binary, ["yes"]), binary.decision_function(["yes"]))
    assert serving._plans[binary] is None


def test_a_policy_edit_shows_in_the_next_reply(active_intent_model, shopper_client):
    from support.models import PolicyText
    from tests.factories.support import PolicyTextFactory

    policy = PolicyTextFactory(key="payment", text="We take Visa and PayPal only.", text_zh="")
    conversation = start(shopper_client)
    assert bot_reply(say(shopper_client, conversation, "what payment methods do you accept")) == policy.text
    policy.text = "Cards only, sorry."
    policy.save()
    assert bot_reply(say(shopper_client, conversation, "what payment methods do you accept")) == "Cards only, sorry."
    PolicyText.objects.all().delete()
    default = bot_reply(say(shopper_client, conversation, "what payment methods do you accept"))
    assert default and default != "Cards only, sorry."


def test_a_new_faq_entry_answers_in_the_next_reply(active_intent_model, shopper_client):
    from tests.factories.support import FAQEntryFactory

    question = "how long does delivery take to the Shetland islands"
    conversation = start(shopper_client)
    before = bot_reply(say(shopper_client, conversation, question))
    FAQEntryFactory(
        question="How long does delivery take to the Shetland islands?",
        answer="Four working days to the Shetland islands.",
        is_active=True,
    )
    after = bot_reply(say(shopper_client, conversation, question))
    assert before != after == "Four working days to the Shetland islands."


@pytest.mark.django_db
def test_a_signed_in_chat_message_takes_one_cache_batch(
    active_intent_model, cached_logins, settings, user, monkeypatch
):
    """Session, user row and both rate-limit counters come in one round trip, and both throttles
    still count the message (the batched counts are used, not given back)."""
    from django.core.cache import cache

    from ecommerce.auth_backends import user_cache_key
    from tests.support.conftest import csrf_client

    settings.SESSION_ENGINE = "ecommerce.sessions"
    client = csrf_client(user)
    cache.delete(user_cache_key(user.pk))  # the login's tombstone (see test_auth_cache)
    conversation = start(client)
    say(client, conversation, "hi")  # fills the cached user row and warms the model
    calls = _CacheCallCounter(monkeypatch)
    response = client.post(f"/api/support/conversations/{conversation}/messages/", {"text": "hello"}, format="json")
    assert response.status_code == 201
    assert response.wsgi_request.user.pk == user.pk
    assert calls.batches == 1
    assert calls.outside == []

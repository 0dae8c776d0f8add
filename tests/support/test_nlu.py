"""NLU on small data: no Django, no database."""

from __future__ import annotations

from decimal import Decimal

from support.nlu import OUT_OF_SCOPE
from support.nlu.data import Examples, augment
from support.nlu.entities import ProductMatcher, extract
from support.nlu.faq import FaqIndex
from support.nlu.intents import THRESHOLD_GRID, KeywordIntentModel, evaluate, train_intent_model
from support.nlu.text import detect_language, normalize, normalize_simplified, to_simplified


def _tiny_examples() -> Examples:
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
        "cancel_order": [
            "cancel my order",
            "i want to cancel the order",
            "please cancel it",
            "cancel purchase",
            "取消订单",
            "帮我取消",
            "我不要了，取消",
            "stop my order",
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


def test_detect_language_chinese_by_cjk_characters():
    assert detect_language("我的订单到哪了") == "zh"
    assert detect_language("where is order 536365") == "en"
    assert detect_language("order 536365 到哪了") == "zh"


def test_normalize_replaces_numbers_and_emails():
    assert normalize("Order #536365 for JO@x.com") == "order # 9 for emailaddr"


def test_train_intent_model_on_small_data_learns_both_languages():
    model, report = train_intent_model(_tiny_examples(), seed=3, validation_fraction=0.25)
    assert report["threshold"] in THRESHOLD_GRID or report["threshold"] == 0.0
    assert model.predict_one("where is my order?").best_intent == "track_order"
    assert model.predict_one("帮我取消订单").best_intent == "cancel_order"
    assert model.predict_one("hello!").best_intent == "greeting"


def test_prediction_below_threshold_is_out_of_scope(monkeypatch):
    model, _ = train_intent_model(_tiny_examples(), seed=3, validation_fraction=0.25)
    model.language_thresholds = {}
    # Just above what the model gives this gibberish (a tiny model can be sure of anything).
    model.threshold = model.predict_one("zzzz qqqq").confidence + 1e-6
    prediction = model.predict_one("zzzz qqqq")
    assert prediction.intent == OUT_OF_SCOPE
    assert prediction.best_intent != "" and prediction.confidence < model.threshold


def test_evaluate_reports_accuracy_macro_f1_per_intent_and_predictions():
    result = evaluate(
        KeywordIntentModel(),
        [
            ("cancel my order", "cancel_order"),
            ("hello", "greeting"),
            ("what's the weather", OUT_OF_SCOPE),
            ("hi", "cancel_order"),
        ],
    )
    assert result["n"] == 4
    assert result["accuracy"] == 0.75
    assert set(result["per_intent"]) == {"cancel_order", "greeting", OUT_OF_SCOPE}
    assert result["predictions"][0] == {
        "text": "cancel my order",
        "intent": "cancel_order",
        "predicted": "cancel_order",
        "confidence": 0.6,
    }


def test_augment_adds_shorthand_and_typo_variants_and_chinese_chat_variants():
    examples = Examples()
    examples.add("where is your order please", "track_order", "shop_en")
    english_only = augment(examples, seed=1)
    examples.add("请问怎么取消订单", "cancel_order", "zh")
    variants = augment(examples, seed=1)
    english = [t for t in variants.texts if detect_language(t) == "en"]
    assert english and all(t != "where is your order please" for t in english)
    # The Chinese copies draw from their own generator: the English copies do not change.
    assert english == english_only.texts
    chinese = [
        (t, i, s) for t, i, s in zip(variants.texts, variants.intents, variants.sources, strict=True) if s == "zh_aug"
    ]
    assert chinese and all(i == "cancel_order" and t != "请问怎么取消订单" for t, i, _ in chinese)
    assert not any(s == "zh_aug" for s in augment(examples, seed=1, zh_variants=0).sources)


def test_traditional_chinese_is_normalised_to_simplified():
    assert to_simplified("點樣轉帳戶？麻煩幫我取消訂單") == "点样转帐户？麻烦帮我取消订单"
    assert to_simplified("cancel my order 123") == "cancel my order 123"
    assert normalize_simplified("請問發票在哪裡") == normalize_simplified("请问发票在哪里")


def test_keyword_fallback_model_is_deterministic():
    model = KeywordIntentModel()
    assert model.predict_one("I want a human").intent == "contact_human_agent"
    assert model.predict_one("取消订单").intent == "cancel_order"
    assert model.predict_one("blue whales sing").intent == OUT_OF_SCOPE


def test_extract_order_numbers_in_uci_and_shop_styles_with_and_without_hash():
    assert extract("where is my order 536365?").order_numbers == ["536365"]
    assert extract("cancel #W241128AB12 pls").order_numbers == ["W241128AB12"]
    assert extract("订单536365到哪了").order_numbers == ["536365"]
    assert extract("credit note C536379").order_numbers == ["C536379"]
    assert extract("call me on 07700900123").order_numbers == []
    # the demo shop's numbers, and W-prefixed ids with letters in them
    assert extract("where is my order WDEMO0003?").order_numbers == ["WDEMO0003"]
    assert extract("wdemo0004 cancel").order_numbers == ["WDEMO0004"]
    assert extract("see you Wednesday at 10").order_numbers == []


def test_extract_emails_and_amounts_with_maximum():
    entities = extract("I'm jo.smith@example.com, a gift for my mum under £20")
    assert entities.emails == ["jo.smith@example.com"]
    assert entities.max_price == Decimal("20")
    assert extract("20镑以内的礼物").max_price == Decimal("20")
    assert extract("something for 15 pounds").amounts[0].value == Decimal("15")
    assert extract("something for 15 pounds").max_price is None


def test_product_matcher_finds_catalog_titles_in_a_message():
    matcher = ProductMatcher([(1, "White hanging heart T-light holder"), (2, "Regency cakestand 3 tier")])
    assert extract("is the white hanging heart t-light holder in stock?", products=matcher).product_ids == [1]
    assert extract("hello", products=matcher).product_ids == []


def test_faq_index_retrieves_english_and_chinese_questions():
    index = FaqIndex(
        [(1, "Do you offer gift wrapping? 你们提供礼品包装吗？"), (2, "Do you sell gift cards? 你们卖礼品卡吗？")]
    )
    assert index.search("can you gift wrap my order")[0].entry_id == 1
    assert index.search("有礼品包装吗")[0].entry_id == 1
    assert index.search("zebra migration patterns") == []

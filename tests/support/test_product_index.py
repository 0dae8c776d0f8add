"""Product search by meaning from chat, FAQ retrieval with the encoder, and when the encoder loads."""

from __future__ import annotations

from decimal import Decimal

import pytest
from celery.signals import worker_process_init

from ecommerce.models import Product
from support import actions, engine
from support.actions import Shopper
from support.models import FAQEntry
from support.nlu import encoder as encoder_module
from support.nlu.entities import extract
from support.training import product_index_build
from tests.factories import ProductFactory
from tests.support.test_chat_api import say, start

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_catalog():
    # Titles in the UCI catalogue's style. Only the mug matches "mum" by meaning AND fits under £5;
    # no title contains the words "gift" or "mum", so keyword search cannot find it.
    return {
        "mug": ProductFactory(title="I LOVE MUMMY MUG", price=Decimal("4.50")),
        "vase": ProductFactory(title="MUMMY'S LUXURY FLOWER VASE", price=Decimal("24.00")),
        "star": ProductFactory(title="CHRISTMAS TREE STAR DECORATION", price=Decimal("0.85")),
        "mirror": ProductFactory(title="LARGE SILVER MIRROR", price=Decimal("39.00")),
        "tape": ProductFactory(title="PACK OF 3 PARCEL TAPE ROLLS", price=Decimal("1.25")),
    }


def _titles(result) -> list[str]:
    return [p["title"] for p in result.data.get("products", [])]


def test_price_cap_is_read_in_the_shops_currency_only():
    assert extract("a gift for my mum under £5").max_price == Decimal(5)
    assert extract("something under 5 GBP please").max_price == Decimal(5)
    assert extract("20镑以内的礼物").max_price == Decimal(20)
    # 100 yuan is about £11: read as £100 the cap would be wrong ninefold, so it is not applied.
    assert extract("100元以内的礼物").max_price is None
    assert extract("anything under $20").max_price is None


def test_chat_product_search_uses_the_index_once_a_worker_built_it(small_catalog):
    # given: a catalogue, no index built yet (eager Celery: the request must not build it)
    shopper = Shopper(language="en")
    text = "a gift for my mum under £5"
    assert engine.product_search_index() is None
    before = actions.product_suggestions(shopper, text, max_price=Decimal(5))
    assert not list(engine.product_index_path(engine.catalog_version()).parent.glob("*.npz"))
    # when: the training job builds it
    summary = product_index_build()
    engine.clear_caches()
    after = actions.product_suggestions(shopper, text, max_price=Decimal(5))
    # then: the meaning finds the mum mug first, the cap still holds
    assert summary["built"] and summary["products"] == 5
    assert _titles(after)[0] == "I LOVE MUMMY MUG"
    assert all(Decimal(p["price"]) <= 5 for p in after.data["products"])
    assert _titles(before)[:1] != ["I LOVE MUMMY MUG"]  # keyword search alone did not find it


def test_chat_message_gets_semantic_products(small_catalog, active_intent_model, shopper_client):
    product_index_build()
    conversation = start(shopper_client)
    body = say(shopper_client, conversation, "got anything for a christmas tree? under £2")
    products = body["messages"][-1]["data"]["products"]
    assert products[0]["title"] == "CHRISTMAS TREE STAR DECORATION"
    assert all(Decimal(p["price"]) <= 2 for p in products)


def test_keyword_search_serves_when_nothing_is_close_in_meaning(small_catalog):
    product_index_build()
    result = actions.product_suggestions(Shopper(), "parcel tape")
    assert _titles(result)[0] == "PACK OF 3 PARCEL TAPE ROLLS"


def test_product_index_is_keyed_on_the_catalogue_and_built_once_per_version(small_catalog):
    first = product_index_build()
    again = product_index_build()
    assert first["built"] and again == {"built": False, "reason": "exists", "file": first["file"]}
    # A repriced product is a new catalogue version: the old index no longer serves.
    Product.objects.filter(pk=small_catalog["mug"].pk).update(price=Decimal("6.00"))
    engine.clear_caches()
    assert engine.product_search_index() is None
    rebuilt = product_index_build()
    assert rebuilt["built"] and rebuilt["file"] != first["file"]
    assert len(list(engine.product_index_path(engine.catalog_version()).parent.glob("*.npz"))) == 1
    engine.clear_caches()
    assert engine.product_search_index() is not None


def test_serving_asks_a_worker_once_when_the_index_is_missing(small_catalog, settings, monkeypatch):
    from support import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = False
    calls = []
    monkeypatch.setattr(tasks.build_product_index_task, "delay", lambda: calls.append(1))  # the broker
    assert engine.product_search_index() is None
    engine.clear_caches()
    assert engine.product_search_index() is None
    assert calls == [1]


def test_serving_asks_no_worker_with_eager_celery(small_catalog, settings, monkeypatch):
    from support import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = True  # the embedded default: .delay() would run right here
    calls = []
    monkeypatch.setattr(tasks.build_product_index_task, "delay", lambda: calls.append(1))
    assert engine.product_search_index() is None
    assert calls == []


def test_build_task_writes_the_index(small_catalog):
    from support.tasks import build_product_index_task

    assert build_product_index_task.apply().get()["built"]  # the task body, run here
    assert engine.product_search_index() is not None


def test_faq_index_searches_questions_and_answers_by_meaning():
    wrap = FAQEntry.objects.create(
        question="Do you offer gift wrapping?",
        question_zh="提供礼品包装吗？",
        answer="Yes: tick 'gift wrap' at checkout.",
        answer_zh="提供：结算时勾选“礼品包装”。",
    )
    FAQEntry.objects.create(
        question="Do you have a physical shop?",
        question_zh="有实体店吗？",
        answer="We are online only.",
        answer_zh="我们只在网上销售。",
    )
    index, entries = engine.faq_index()
    assert index.semantic and set(entries) == set(FAQEntry.objects.values_list("pk", flat=True))
    assert index.search("can you wrap it as a present")[0].entry_id == wrap.pk
    assert index.search("能包成礼物吗")[0].entry_id == wrap.pk


def test_encoder_warms_at_startup_only_when_enabled(settings, monkeypatch):
    loads = []
    monkeypatch.setattr(engine, "load_encoder", lambda name: loads.append(name) or object())
    settings.SUPPORT_WARM_ENCODER = False
    assert engine.warm_encoder_if_enabled() is False and loads == []
    settings.SUPPORT_WARM_ENCODER = True
    assert engine.warm_encoder_if_enabled() is True and loads == ["use"]


def test_worker_processes_load_the_encoder_when_they_start(monkeypatch):
    import support.tasks  # noqa: F401 - connects the signal, as autodiscovery does in a worker

    loads = []
    monkeypatch.setattr(encoder_module, "load_encoder", lambda name="use": loads.append(name))
    worker_process_init.send(sender=None)
    assert loads == ["use"]


def test_out_of_stock_semantic_hits_are_skipped(small_catalog):
    product_index_build()
    Product.objects.filter(pk=small_catalog["mug"].pk).update(stock=0)
    result = actions.product_suggestions(Shopper(), "a gift for my mum under £5", max_price=Decimal(5))
    assert "I LOVE MUMMY MUG" not in _titles(result)
    assert all(Decimal(p["price"]) <= 5 for p in result.data.get("products", []))

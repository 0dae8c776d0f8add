"""Retraining (on a real Celery worker), promotion rules and the evaluate_intents command."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from ecommerce.models import ModelVersion
from support.engine import intent_model
from support.nlu.intents import IntentModel, KeywordIntentModel
from tests.factories.support import MessageFactory


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_retrain_intents_task_on_the_real_worker_registers_and_promotes(celery_worker_real):
    from support.tasks import retrain_intents_task

    MessageFactory(text="wheres me parcel innit", intent="out_of_scope")
    from support.models import IntentCorrection, Message

    IntentCorrection.objects.create(message=Message.objects.get(), intent="track_order")
    summary = retrain_intents_task.delay(max_bitext_per_intent=2).get(timeout=600)
    assert summary["promoted"] is True and summary["corrections"] == 1
    version = ModelVersion.objects.get(name="support.intents")
    assert version.status == "active" and version.data_ref["sources"]["correction"] == 1
    assert 0 < version.metrics["accuracy"] <= 1 and "accuracy_realistic_zh" in version.metrics
    assert version.metrics["features"] == "use+tfidf" and version.params["encoder"] == "use"
    assert isinstance(intent_model(), IntentModel)


@pytest.mark.django_db
def test_a_model_that_is_not_strictly_better_is_not_promoted(small_intent_model):
    from support.training import intent_model_register_and_promote

    first = intent_model_register_and_promote(model=small_intent_model, report=small_intent_model.info)
    again = intent_model_register_and_promote(model=small_intent_model, report=small_intent_model.info)
    assert first["promoted"] is True and first["active_accuracy_same_data"] is None
    assert again["active_accuracy_same_data"] == again["accuracy"]  # scored on the same data
    assert again["promoted"] is False
    assert ModelVersion.objects.get(name="support.intents", status="active").version == first["version"]
    assert "Not promoted" in ModelVersion.objects.get(name="support.intents", version=again["version"]).notes


@pytest.mark.django_db
def test_serving_falls_back_to_keyword_rules_without_an_active_model():
    assert isinstance(intent_model(), KeywordIntentModel)


@pytest.mark.django_db
def test_evaluate_intents_command_writes_the_json_report(tmp_path, active_intent_model, capsys):
    test_file = tmp_path / "t.csv"
    test_file.write_text(
        "text,intent\nwhere is my order 536365?,track_order\n我要人工客服,contact_human_agent\n"
        "what's the weather like,out_of_scope\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.json"
    call_command("evaluate_intents", "--test-file", str(test_file), "--json", str(out))
    result = json.loads(out.read_text(encoding="utf-8"))
    assert set(result) >= {"n", "accuracy", "macro_f1", "per_intent", "predictions"}
    assert result["n"] == 3 and set(result["predictions"][0]) == {"text", "intent", "predicted", "confidence"}
    assert result["model"] == "support.intents v1 (use+tfidf)"  # names the serving model and its features
    assert "accuracy" in capsys.readouterr().out


@pytest.mark.django_db
def test_evaluate_intents_command_rejects_a_missing_file(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("evaluate_intents", "--test-file", str(tmp_path / "nope.csv"))


@pytest.mark.django_db
def test_demo_step_creates_content_and_an_agent_with_the_permission():
    import io

    from support.demo import support_demo_step
    from support.models import CannedResponse, FAQEntry, PolicyText
    from support.services import is_agent

    out = io.StringIO()
    support_demo_step(seed=1, stdout=out)
    support_demo_step(seed=1, stdout=out)  # safe to run twice
    from django.contrib.auth import get_user_model

    agent = get_user_model().objects.get(username="agent")
    assert is_agent(agent) and "password" in out.getvalue()
    assert FAQEntry.objects.count() == 5 and CannedResponse.objects.count() == 4 and PolicyText.objects.count() == 7


@pytest.mark.django_db
def test_evaluate_intents_names_the_tfidf_fallback_when_the_encoder_cannot_be_imported(
    tmp_path, active_intent_model, monkeypatch
):
    from support.nlu import encoder as encoder_module

    def fail(name):
        raise ImportError(f"No module named {name!r} (simulated)")

    saved = dict(encoder_module._cache)
    encoder_module.clear_encoder_cache()
    monkeypatch.setattr(encoder_module, "_import_backend", fail)
    try:
        test_file = tmp_path / "t.csv"
        test_file.write_text("text,intent\nwhere is my order 536365?,track_order\n", encoding="utf-8")
        out = tmp_path / "out.json"
        call_command("evaluate_intents", "--test-file", str(test_file), "--json", str(out))
        result = json.loads(out.read_text(encoding="utf-8"))
        assert result["model"] == "support.intents v1 (tfidf (fallback: encoder unavailable))"
        assert result["predictions"][0]["predicted"] == "track_order"
    finally:
        encoder_module._cache.clear()
        encoder_module._cache.update(saved)

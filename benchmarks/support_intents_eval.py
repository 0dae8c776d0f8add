"""Train the support intent model with one feature setting and report accuracy on every test set,
artifact size, training time and single-message latency (encoder path and TF-IDF fallback).

    .venv/bin/python benchmarks/support_intents_eval.py --encoder use [--json OUT]
    .venv/bin/python benchmarks/support_intents_eval.py --encoder e5
    .venv/bin/python benchmarks/support_intents_eval.py --encoder none          # TF-IDF only
    .venv/bin/python benchmarks/support_intents_eval.py --model /tmp/model.joblib  # score a saved model

No database: trains exactly what `intent_model_retrain` trains (shipped data, no agents'
corrections) with `train_intent_model`, so it scores the same model the registry would get. The
frozen set is only scored here, never used for a choice (see BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import joblib  # noqa: E402

from support.nlu import encoder as encoder_module  # noqa: E402
from support.nlu.data import DATA_DIR, load_base_examples, read_labelled_csv  # noqa: E402
from support.nlu.intents import evaluate, train_intent_model  # noqa: E402

SHARED = Path(os.environ.get("SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))
TEST_FILES = {
    "frozen_en": DATA_DIR / "frozen" / "frozen_en.csv",
    "frozen_zh": DATA_DIR / "frozen" / "frozen_zh.csv",
    "frozen_off_topic": DATA_DIR / "frozen" / "frozen_off_topic.csv",
    "frozen_v2_en": DATA_DIR / "frozen_v2" / "frozen_v2_en.csv",
    "frozen_v2_zh": DATA_DIR / "frozen_v2" / "frozen_v2_zh.csv",
    "frozen_v2_off_topic": DATA_DIR / "frozen_v2" / "frozen_v2_off_topic.csv",
    "frozen_v3_en": DATA_DIR / "frozen_v3" / "frozen_v3_en.csv",
    "frozen_v3_zh": DATA_DIR / "frozen_v3" / "frozen_v3_zh.csv",
    "frozen_v3_off_topic": DATA_DIR / "frozen_v3" / "frozen_v3_off_topic.csv",
    "frozen_v4_en": DATA_DIR / "frozen_v4" / "frozen_v4_en.csv",
    "frozen_v4_zh": DATA_DIR / "frozen_v4" / "frozen_v4_zh.csv",
    "frozen_v4_off_topic": DATA_DIR / "frozen_v4" / "frozen_v4_off_topic.csv",
    "frozen_v5_en": DATA_DIR / "frozen_v5" / "frozen_v5_en.csv",
    "frozen_v5_zh": DATA_DIR / "frozen_v5" / "frozen_v5_zh.csv",
    "frozen_v5_off_topic": DATA_DIR / "frozen_v5" / "frozen_v5_off_topic.csv",
    "bitext_eval": SHARED / "support" / "bitext_eval_split.csv.gz",
    "realistic_en": DATA_DIR / "eval" / "realistic_en.csv",
    "realistic_zh": DATA_DIR / "eval" / "realistic_zh.csv",
    "off_topic": DATA_DIR / "eval" / "off_topic.csv",
    "fresh_en": DATA_DIR / "eval" / "fresh_en.csv",
    "fresh_zh": DATA_DIR / "eval" / "fresh_zh.csv",
}


def latency_ms(model, texts: list[str]) -> dict[str, float]:
    """Median and p90 of one predict_one call per message (the chat path), after one warm-up.

    The encoder memoises recent texts and these were just scored: forget them first, so every
    message is encoded as a new one would be."""
    model.predict_one("warm up")
    for encoder in encoder_module._cache.values():
        if encoder is not None:
            encoder.clear_memo()
    times = []
    for text in texts:
        start = time.perf_counter()
        model.predict_one(text)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"median_ms": round(statistics.median(times), 2), "p90_ms": round(times[int(len(times) * 0.9)], 2)}


def scores(model) -> dict[str, dict[str, float]]:
    out = {}
    for name, path in TEST_FILES.items():
        if path.exists():
            result = evaluate(model, read_labelled_csv(path), with_predictions=False)
            out[name] = {"n": result["n"], "accuracy": result["accuracy"], "macro_f1": result["macro_f1"]}
            print(
                f"{name:18} n={result['n']:4d} accuracy={result['accuracy']:.4f} macro_f1={result['macro_f1']:.4f}",
                flush=True,
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", default="use", help="use, e5 or none")
    parser.add_argument("--model", default="", help="score this saved model instead of training one")
    parser.add_argument("--save", default="", help="save the trained model here (joblib)")
    parser.add_argument("--json", dest="json_out", default="")
    parser.add_argument("--latency-n", type=int, default=200)
    args = parser.parse_args()

    report: dict = {}
    if args.model:
        model = joblib.load(args.model)
        report["model"] = args.model
    else:
        start = time.perf_counter()
        model, train_report = train_intent_model(
            load_base_examples(), seed=13, encoder=None if args.encoder == "none" else args.encoder
        )
        report["train_seconds"] = round(time.perf_counter() - start, 1)
        report["train_report"] = {k: v for k, v in train_report.items() if k != "threshold_macro_f1"}
        report["train_report"].get("fallback", {}).pop("threshold_macro_f1", None)
        if args.save:
            joblib.dump(model, args.save)
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)  # as the registry stores it
    report["artifact_bytes"] = buffer.tell()
    report["features"] = getattr(model, "features", "?")
    print(f"features: {report['features']}; artifact {report['artifact_bytes'] / 1e6:.1f} MB", flush=True)
    report["scores"] = scores(model)

    texts = [t for name in ("frozen_en", "frozen_zh", "realistic_en") for t, _ in read_labelled_csv(TEST_FILES[name])][
        : args.latency_n
    ]
    report["latency"] = latency_ms(model, texts)
    print(f"latency per message: {report['latency']}", flush=True)
    if getattr(model, "fallback", None) is not None:
        # The same artifact in a process where the encoder cannot be imported.
        saved = dict(encoder_module._cache)
        encoder_module._cache.clear()
        encoder_module._cache[model.encoder] = None
        report["fallback_features"] = model.features
        print(f"fallback: {model.features}", flush=True)
        report["fallback_scores"] = scores(model)
        report["fallback_latency"] = latency_ms(model, texts)
        print(f"fallback latency per message: {report['fallback_latency']}", flush=True)
        encoder_module._cache.update(saved)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()

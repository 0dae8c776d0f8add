"""Guards on the support data files: test sets stay out of training, the frozen set stays frozen."""

from __future__ import annotations

import difflib
import hashlib
import re
from pathlib import Path

import pytest

from support.nlu.data import DATA_DIR, TRAINING_FILES, read_labelled_csv

FROZEN_DIR = DATA_DIR / "frozen"
# Recorded in BENCHMARKS.md ("Support: frozen hand-written set"). A changed file is a new test set:
# record it there with its own baseline instead of editing these.
FROZEN_SHA256 = {
    "frozen_en.csv": "06a90003868e160c3d652c22d939c97caf2f764b5f7de0919c8c82ec4b133bdd",
    "frozen_zh.csv": "a3620626c7635f7de7b01c8191df2dfcfb3285abf7259b7a5f97c0a9c21835dc",
    "frozen_off_topic.csv": "bbdaaf42b3d8697ad6c60dfe4c8522a9a1fa80eb435e7a766e604c9bd788d435",
}
FROZEN_V2_DIR = DATA_DIR / "frozen_v2"
# The second frozen set (written when the first had been used to choose a model): same rules.
FROZEN_V2_SHA256 = {
    "frozen_v2_en.csv": "6bc4d0b54d846091c38e4b85655306e6bac46d2926ed20015b1b00a0eb8bea8a",
    "frozen_v2_zh.csv": "635d668ffc611d204229eeba54ee2955bb636f3fec64bdf5f2437ec20adba979",
    "frozen_v2_off_topic.csv": "5ee50d629fff93b08c3d8a3c0b65be7e3c616d7eeb864abca52ee77b4b903a60",
}
FROZEN_V3_DIR = DATA_DIR / "frozen_v3"
# The third frozen set (round 3: v1 was used to choose a model, v2 was written with the round-2
# training data). Same rules.
FROZEN_V3_SHA256 = {
    "frozen_v3_en.csv": "e4b72a99e7c2d49797296a836ace577b644af89c392f68be0273389952b7be95",
    "frozen_v3_zh.csv": "6eb9e68947371bb770d2553d06bc80890fb3a92964abd1dbadbe9f8dc90c1168",
    "frozen_v3_off_topic.csv": "22a5e5f6aa1b7110aedc86e2eb632602adc1140636db3d703d8817d50d7e3a9c",
}
FROZEN_V4_DIR = DATA_DIR / "frozen_v4"
# The fourth frozen set (round 4: v1-v3 had all been used while changing the model): same rules.
FROZEN_V4_SHA256 = {
    "frozen_v4_en.csv": "c2f5b47184a8ac9e8d7e3c3d1afa2e24a0b678848718ca029024170917d3d768",
    "frozen_v4_zh.csv": "0c7a7003120e4d93b2e3aa40917779c79cfdc7b088ef72e21951e0a72da5c953",
    "frozen_v4_off_topic.csv": "30f2ee6bd2dcff54c3b2ae3c5b60852d6d5a9019b8adb79923def1d031e55ab6",
}
FROZEN_V5_DIR = DATA_DIR / "frozen_v5"
# The fifth frozen set (round 5: v4's totals were read to judge round 4): same rules.
FROZEN_V5_SHA256 = {
    "frozen_v5_en.csv": "63b8a40f71e2ff465bc632126a1b8ff18b86d4efab0516ddc64d7f2bdf706064",
    "frozen_v5_zh.csv": "82f80772715ad7809251eac4fc55ba4b4be68048a5da2a609e74ffa71244660e",
    "frozen_v5_off_topic.csv": "d23db89bcecacccace63eb266206a1bc9c9357f33fb44d1029ed79dd9346ae91",
}


def _key(text: str) -> str:
    """Case, spaces and punctuation do not make a different message."""
    return re.sub(r"[\s，。！？,.!?～~、'’]", "", text.lower())


def _test_files() -> list[Path]:
    return (
        sorted((DATA_DIR / "eval").glob("*.csv"))
        + sorted(FROZEN_DIR.glob("*.csv"))
        + sorted(FROZEN_V2_DIR.glob("*.csv"))
        + sorted(FROZEN_V3_DIR.glob("*.csv"))
        + sorted(FROZEN_V4_DIR.glob("*.csv"))
        + sorted(FROZEN_V5_DIR.glob("*.csv"))
    )


@pytest.mark.parametrize("name", sorted(FROZEN_SHA256))
def test_frozen_set_is_unchanged(name):
    assert hashlib.sha256((FROZEN_DIR / name).read_bytes()).hexdigest() == FROZEN_SHA256[name]


def test_frozen_set_sizes():
    sizes = {name: len(read_labelled_csv(FROZEN_DIR / name)) for name in FROZEN_SHA256}
    assert sizes["frozen_en.csv"] >= 150 and sizes["frozen_zh.csv"] >= 150
    assert {i for _, i in read_labelled_csv(FROZEN_DIR / "frozen_off_topic.csv")} == {"out_of_scope"}


@pytest.mark.parametrize("name", sorted(FROZEN_V2_SHA256))
def test_frozen_v2_set_is_unchanged(name):
    assert hashlib.sha256((FROZEN_V2_DIR / name).read_bytes()).hexdigest() == FROZEN_V2_SHA256[name]


def test_frozen_v2_set_sizes_and_coverage():
    en = read_labelled_csv(FROZEN_V2_DIR / "frozen_v2_en.csv")
    zh = read_labelled_csv(FROZEN_V2_DIR / "frozen_v2_zh.csv")
    off = read_labelled_csv(FROZEN_V2_DIR / "frozen_v2_off_topic.csv")
    assert len(en) >= 150 and len(zh) >= 150 and len(off) >= 50
    assert {i for _, i in off} == {"out_of_scope"}
    assert {i for _, i in en} == {i for _, i in zh} and len({i for _, i in en}) == 31


@pytest.mark.parametrize("name", sorted(FROZEN_V3_SHA256))
def test_frozen_v3_set_is_unchanged(name):
    assert hashlib.sha256((FROZEN_V3_DIR / name).read_bytes()).hexdigest() == FROZEN_V3_SHA256[name]


def test_frozen_v3_set_sizes_and_coverage():
    en = read_labelled_csv(FROZEN_V3_DIR / "frozen_v3_en.csv")
    zh = read_labelled_csv(FROZEN_V3_DIR / "frozen_v3_zh.csv")
    off = read_labelled_csv(FROZEN_V3_DIR / "frozen_v3_off_topic.csv")
    assert len(en) >= 150 and len(zh) >= 150 and len(off) >= 50
    assert {i for _, i in off} == {"out_of_scope"}
    assert {i for _, i in en} == {i for _, i in zh} and len({i for _, i in en}) == 31


def test_frozen_v3_shares_no_message_with_the_earlier_test_sets():
    v3 = {_key(t) for path in sorted(FROZEN_V3_DIR.glob("*.csv")) for t, _ in read_labelled_csv(path)}
    earlier = [
        *sorted((DATA_DIR / "eval").glob("*.csv")),
        *sorted(FROZEN_DIR.glob("*.csv")),
        *sorted(FROZEN_V2_DIR.glob("*.csv")),
    ]
    shared = {path.name: [t for t, _ in read_labelled_csv(path) if _key(t) in v3] for path in earlier}
    assert shared == {path.name: [] for path in earlier}


@pytest.mark.parametrize("name", sorted(FROZEN_V4_SHA256))
def test_frozen_v4_set_is_unchanged(name):
    assert hashlib.sha256((FROZEN_V4_DIR / name).read_bytes()).hexdigest() == FROZEN_V4_SHA256[name]


def test_frozen_v4_set_sizes_and_coverage():
    en = read_labelled_csv(FROZEN_V4_DIR / "frozen_v4_en.csv")
    zh = read_labelled_csv(FROZEN_V4_DIR / "frozen_v4_zh.csv")
    off = read_labelled_csv(FROZEN_V4_DIR / "frozen_v4_off_topic.csv")
    assert len(en) >= 150 and len(zh) >= 150 and len(off) >= 50
    assert {i for _, i in off} == {"out_of_scope"}
    assert {i for _, i in en} == {i for _, i in zh} and len({i for _, i in en}) == 31


def test_frozen_v4_shares_no_message_with_the_earlier_test_sets():
    v4 = {_key(t) for path in sorted(FROZEN_V4_DIR.glob("*.csv")) for t, _ in read_labelled_csv(path)}
    earlier = [
        *sorted((DATA_DIR / "eval").glob("*.csv")),
        *sorted(FROZEN_DIR.glob("*.csv")),
        *sorted(FROZEN_V2_DIR.glob("*.csv")),
        *sorted(FROZEN_V3_DIR.glob("*.csv")),
    ]
    shared = {path.name: [t for t, _ in read_labelled_csv(path) if _key(t) in v4] for path in earlier}
    assert shared == {path.name: [] for path in earlier}


@pytest.mark.parametrize("name", sorted(FROZEN_V5_SHA256))
def test_frozen_v5_set_is_unchanged(name):
    assert hashlib.sha256((FROZEN_V5_DIR / name).read_bytes()).hexdigest() == FROZEN_V5_SHA256[name]


def test_frozen_v5_set_sizes_and_coverage():
    en = read_labelled_csv(FROZEN_V5_DIR / "frozen_v5_en.csv")
    zh = read_labelled_csv(FROZEN_V5_DIR / "frozen_v5_zh.csv")
    off = read_labelled_csv(FROZEN_V5_DIR / "frozen_v5_off_topic.csv")
    assert len(en) >= 150 and len(zh) >= 150 and len(off) >= 60
    assert {i for _, i in off} == {"out_of_scope"}
    assert {i for _, i in en} == {i for _, i in zh} and len({i for _, i in en}) == 31


def test_frozen_v5_shares_no_message_with_the_earlier_test_sets():
    v5 = {_key(t) for path in sorted(FROZEN_V5_DIR.glob("*.csv")) for t, _ in read_labelled_csv(path)}
    earlier = [
        *sorted((DATA_DIR / "eval").glob("*.csv")),
        *sorted(FROZEN_DIR.glob("*.csv")),
        *sorted(FROZEN_V2_DIR.glob("*.csv")),
        *sorted(FROZEN_V3_DIR.glob("*.csv")),
        *sorted(FROZEN_V4_DIR.glob("*.csv")),
    ]
    shared = {path.name: [t for t, _ in read_labelled_csv(path) if _key(t) in v5] for path in earlier}
    assert shared == {path.name: [] for path in earlier}


def test_no_test_message_is_also_a_training_message():
    training = {_key(t) for path in TRAINING_FILES for t, _ in read_labelled_csv(path)}
    shared = {path.name: [t for t, _ in read_labelled_csv(path) if _key(t) in training] for path in _test_files()}
    assert shared == {path.name: [] for path in _test_files()}


def test_no_chinese_training_message_is_a_near_copy_of_an_eval_message():
    """Short Chinese messages one particle apart (你好 / 你好呀, 我要退款 / 我要申请退款) are the
    same message: none may sit in a training file when its near twin is in `eval/`."""
    chinese = re.compile(r"[\u4e00-\u9fff]")
    evals = [
        (path.name, _key(t))
        for path in sorted((DATA_DIR / "eval").glob("*.csv"))
        for t, _ in read_labelled_csv(path)
        if chinese.search(t)
    ]

    def close(a: str, b: str) -> bool:
        matcher = difflib.SequenceMatcher(None, a, b)  # cheap upper bounds first
        return matcher.real_quick_ratio() >= 0.8 and matcher.quick_ratio() >= 0.8 and matcher.ratio() >= 0.8

    near = [
        (t, name)
        for path in TRAINING_FILES
        if not path.name.endswith(".gz")
        for t, _ in read_labelled_csv(path)
        if chinese.search(t)
        for name, e in evals
        if close(_key(t), e)
    ]
    assert near == []


def test_no_training_message_is_a_near_copy_of_a_frozen_v5_message():
    """Round 5's training files were written after frozen v5: no Chinese training message may be
    a v5 message one particle apart (English was checked by sentence-encoder cosine when v5 was
    written; three short English pairs above difflib 0.8 predate round 5 and are listed in v5's
    README)."""
    chinese = re.compile(r"[\u4e00-\u9fff]")

    def close(a: str, b: str) -> bool:
        matcher = difflib.SequenceMatcher(None, a, b)
        return matcher.real_quick_ratio() >= 0.8 and matcher.quick_ratio() >= 0.8 and matcher.ratio() >= 0.8

    v5 = [
        _key(t) for path in sorted(FROZEN_V5_DIR.glob("*.csv")) for t, _ in read_labelled_csv(path) if chinese.search(t)
    ]
    near = [
        (t, path.name)
        for path in TRAINING_FILES
        if not path.name.endswith(".gz")
        for t, _ in read_labelled_csv(path)
        if chinese.search(t) and any(close(_key(t), e) for e in v5)
    ]
    assert near == []


def test_round5_training_files_are_read_under_their_own_sources():
    from support.nlu.data import ROUND5_EN, ROUND5_ZH, load_base_examples

    base = load_base_examples(bitext=None)
    by_source = {s: sum(1 for x in base.sources if x == s) for s in ("r5_en", "zh_r5")}
    assert by_source == {"r5_en": len(read_labelled_csv(ROUND5_EN)), "zh_r5": len(read_labelled_csv(ROUND5_ZH))}
    assert min(by_source.values()) >= 40


def test_training_code_never_reads_the_frozen_set():
    support = DATA_DIR.parent
    for path in [*sorted((support / "nlu").glob("*.py")), support / "training.py", support / "tasks.py"]:
        assert not re.search(r"[\"'/]frozen", path.read_text(encoding="utf-8")), path


def test_every_shipped_training_source_has_its_own_weight():
    """A new training file read under a new source name would silently count 1.0 (like Bitext's
    templated paraphrases); every source, and its augmented copies, is weighted on purpose."""
    from support.nlu.data import augment, load_base_examples
    from support.nlu.intents import SOURCE_WEIGHTS

    base = load_base_examples(bitext=None)
    sources = set(base.sources) | set(augment(base, seed=1).sources)
    assert sources >= {"shop_en", "zh", "styles_en", "zh_styles", "more_en", "zh_more", "more_en_aug"}
    assert sources - set(SOURCE_WEIGHTS) == set()

"""Guards on the support data files: test sets stay out of training, the frozen set stays frozen."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from support.nlu.data import BITEXT_TRAIN, DATA_DIR, SHOP_EN, ZH, read_labelled_csv

FROZEN_DIR = DATA_DIR / "frozen"
# Recorded in BENCHMARKS.md ("Support: frozen hand-written set"). A changed file is a new test set:
# record it there with its own baseline instead of editing these.
FROZEN_SHA256 = {
    "frozen_en.csv": "06a90003868e160c3d652c22d939c97caf2f764b5f7de0919c8c82ec4b133bdd",
    "frozen_zh.csv": "a3620626c7635f7de7b01c8191df2dfcfb3285abf7259b7a5f97c0a9c21835dc",
    "frozen_off_topic.csv": "bbdaaf42b3d8697ad6c60dfe4c8522a9a1fa80eb435e7a766e604c9bd788d435",
}


def _key(text: str) -> str:
    """Case, spaces and punctuation do not make a different message."""
    return re.sub(r"[\s，。！？,.!?～~、'’]", "", text.lower())


def _test_files() -> list[Path]:
    return sorted((DATA_DIR / "eval").glob("*.csv")) + sorted(FROZEN_DIR.glob("*.csv"))


@pytest.mark.parametrize("name", sorted(FROZEN_SHA256))
def test_frozen_set_is_unchanged(name):
    assert hashlib.sha256((FROZEN_DIR / name).read_bytes()).hexdigest() == FROZEN_SHA256[name]


def test_frozen_set_sizes():
    sizes = {name: len(read_labelled_csv(FROZEN_DIR / name)) for name in FROZEN_SHA256}
    assert sizes["frozen_en.csv"] >= 150 and sizes["frozen_zh.csv"] >= 150
    assert {i for _, i in read_labelled_csv(FROZEN_DIR / "frozen_off_topic.csv")} == {"out_of_scope"}


def test_no_test_message_is_also_a_training_message():
    training = {_key(t) for path in (BITEXT_TRAIN, SHOP_EN, ZH) for t, _ in read_labelled_csv(path)}
    shared = {path.name: [t for t, _ in read_labelled_csv(path) if _key(t) in training] for path in _test_files()}
    assert shared == {path.name: [] for path in _test_files()}


def test_training_code_never_reads_the_frozen_set():
    support = DATA_DIR.parent
    for path in [*sorted((support / "nlu").glob("*.py")), support / "training.py", support / "tasks.py"]:
        assert not re.search(r"[\"'/]frozen", path.read_text(encoding="utf-8")), path

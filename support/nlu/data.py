"""The shipped training data and its augmentation (no Django: paths are passed in or defaulted).

support/data/bitext_train.csv.gz  Bitext customer-support sample (both official versions merged,
                                  de-duplicated, the evaluation split removed), CDLA-Sharing-1.0:
                                  its licence is LICENSE-CDLA-Sharing-1.0.txt beside it.
support/data/shop_examples_en.csv our English examples: greeting, thanks, goodbye, product_search,
                                  out_of_scope and chat shorthand for the main intents.
support/data/zh_examples.csv      our Chinese examples for every intent.
support/data/shop_styles_en.csv   our English messages written the way shoppers write: long stories
support/data/zh_styles.csv        with the request buried, slang, typos, polite/angry, several
                                  requests labelled by the main one (Chinese: colloquial, mixed
                                  simplified/traditional, a little Cantonese).
support/data/shop_more_en.csv     round 3: indirect English phrasings and the intent pairs the models
support/data/zh_more.csv          confused (address details vs order changes, cash on delivery vs
                                  payment problems, refund vs refund status, review/account vs
                                  ordering); Chinese in plain, traditional and Cantonese wording.
support/data/shop_round4_en.csv   round 4: plain and chatty English, Chinese with internet slang,
support/data/zh_round4.csv        Cantonese, traditional characters and English product words mixed in,
                                  for every intent (validation confusions: refund status vs policy,
                                  complaint/contact vs human agent, payment problem vs methods).
support/data/shop_round5_en.csv   round 5: small talk (thanks/goodbye/greeting, Chinese 撤了 = leaving),
support/data/zh_round5.csv        ordering by phone or "I'll take the X", next/same-day delivery,
                                  double charges, pay-later, new phone number, postcode/house-number
                                  fixes on an order, refund status, and everyday off-topic questions.
support/data/eval/                realistic test sets: NEVER used for training.
"""

from __future__ import annotations

import csv
import gzip
import random
from dataclasses import dataclass, field
from pathlib import Path

from . import OUT_OF_SCOPE
from .text import add_shorthand, add_typos, strip_politeness, zh_chat_variant

# Chinese chat variants of our Chinese examples (round 4): copies per message; 0 turns them off.
ZH_VARIANTS = 2

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
BITEXT_TRAIN = DATA_DIR / "bitext_train.csv.gz"
SHOP_EN = DATA_DIR / "shop_examples_en.csv"
ZH = DATA_DIR / "zh_examples.csv"
SHOP_STYLES_EN = DATA_DIR / "shop_styles_en.csv"
ZH_STYLES = DATA_DIR / "zh_styles.csv"
SHOP_MORE_EN = DATA_DIR / "shop_more_en.csv"
ZH_MORE = DATA_DIR / "zh_more.csv"
ROUND4_EN = DATA_DIR / "shop_round4_en.csv"
ROUND4_ZH = DATA_DIR / "zh_round4.csv"
ROUND5_EN = DATA_DIR / "shop_round5_en.csv"
ROUND5_ZH = DATA_DIR / "zh_round5.csv"
# Every file training reads (the data tests check that no test message is in any of them).
TRAINING_FILES = (
    BITEXT_TRAIN,
    SHOP_EN,
    ZH,
    SHOP_STYLES_EN,
    ZH_STYLES,
    SHOP_MORE_EN,
    ZH_MORE,
    ROUND4_EN,
    ROUND4_ZH,
    ROUND5_EN,
    ROUND5_ZH,
)

BITEXT_INTENTS = (
    "cancel_order",
    "change_order",
    "change_shipping_address",
    "check_cancellation_fee",
    "check_invoice",
    "check_payment_methods",
    "check_refund_policy",
    "complaint",
    "contact_customer_service",
    "contact_human_agent",
    "create_account",
    "delete_account",
    "delivery_options",
    "delivery_period",
    "edit_account",
    "get_invoice",
    "get_refund",
    "newsletter_subscription",
    "payment_issue",
    "place_order",
    "recover_password",
    "registration_problems",
    "review",
    "set_up_shipping_address",
    "switch_account",
    "track_order",
    "track_refund",
)
# The shop's own intents. Asking for a human is Bitext's contact_human_agent (one class, not two).
SHOP_INTENTS = ("greeting", "thanks", "goodbye", "product_search", OUT_OF_SCOPE)
ALL_INTENTS = BITEXT_INTENTS + SHOP_INTENTS


@dataclass
class Examples:
    texts: list[str] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def add(self, text: str, intent: str, source: str) -> None:
        self.texts.append(text)
        self.intents.append(intent)
        self.sources.append(source)

    def extend(self, other: Examples) -> None:
        self.texts += other.texts
        self.intents += other.intents
        self.sources += other.sources

    def __len__(self) -> int:
        return len(self.texts)


def read_labelled_csv(path: Path | str, *, text_column: str = "text") -> list[tuple[str, str]]:
    """Rows (text, intent) of a CSV with `text,intent` columns (gzip if the name ends in .gz)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        return [
            (row[text_column].strip(), row["intent"].strip())
            for row in csv.DictReader(handle)
            if row.get(text_column, "").strip() and row.get("intent", "").strip()
        ]


def load_base_examples(
    *,
    bitext: Path | None = BITEXT_TRAIN,
    shop_en: Path | None = SHOP_EN,
    zh: Path | None = ZH,
    styles_en: Path | None = SHOP_STYLES_EN,
    styles_zh: Path | None = ZH_STYLES,
    more_en: Path | None = SHOP_MORE_EN,
    more_zh: Path | None = ZH_MORE,
    round4_en: Path | None = ROUND4_EN,
    round4_zh: Path | None = ROUND4_ZH,
    round5_en: Path | None = ROUND5_EN,
    round5_zh: Path | None = ROUND5_ZH,
) -> Examples:
    out = Examples()
    for path, source in (
        (bitext, "bitext"),
        (shop_en, "shop_en"),
        (zh, "zh"),
        (styles_en, "styles_en"),
        (styles_zh, "zh_styles"),
        (more_en, "more_en"),
        (more_zh, "zh_more"),
        (round4_en, "r4_en"),
        (round4_zh, "zh_r4"),
        (round5_en, "r5_en"),
        (round5_zh, "zh_r5"),
    ):
        if path is None:
            continue
        for text, intent in read_labelled_csv(path):
            out.add(text, intent, source)
    return out


def augment(
    examples: Examples, *, seed: int = 13, bitext_fraction: float = 0.35, zh_variants: int | None = None
) -> Examples:
    """Shorthand, typo and terse variants, so the model meets the way shoppers actually type.

    Bitext already has some noise (tag Z) but little chat shorthand and few keyword-only messages;
    our own short examples are few, so each gets several noisy copies.
    """
    rng = random.Random(seed)
    # Its own generator, so the English copies stay the same with or without the Chinese ones.
    rng_zh = random.Random(seed + 7919)
    zh_copies = ZH_VARIANTS if zh_variants is None else zh_variants
    out = Examples()
    for text, intent, source in zip(examples.texts, examples.intents, examples.sources, strict=True):
        if source.startswith("zh"):
            # Typos in Chinese are wrong characters, not letter slips: not simulated. Chat
            # variants (particles, 咋/啥, English product words) are.
            seen = {text}
            for _ in range(zh_copies):
                variant = zh_chat_variant(text, intent, rng_zh)
                if variant not in seen:
                    seen.add(variant)
                    out.add(variant, intent, f"{source}_aug")
            continue
        copies = 3 if source != "bitext" else (1 if rng.random() < bitext_fraction else 0)
        for _ in range(copies):
            variant = add_shorthand(text, rng)
            if rng.random() < 0.5:
                variant = strip_politeness(variant)
            if rng.random() < 0.6:
                variant = add_typos(variant, rng, n=rng.choice((1, 1, 2)))
            if variant and variant != text.lower():
                out.add(variant, intent, f"{source}_aug")
    return out

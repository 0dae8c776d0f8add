"""Text helpers shared by training and serving (the same normalisation on both sides)."""

from __future__ import annotations

import random
import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Shop order numbers (W + date + hex) and any run of digits: the classifier should learn
# "order <number>", not memorise particular numbers.
_ORDER_LIKE = re.compile(r"\b[wW]\d{6}[0-9A-Fa-f]{2,8}\b")
_DIGITS = re.compile(r"\d+(?:[.,]\d+)?")
_SPACES = re.compile(r"\s+")


def detect_language(text: str) -> str:
    """'zh' when the message contains any CJK ideograph, else 'en' (the two languages we answer in)."""
    return "zh" if _CJK.search(text or "") else "en"


def normalize(text: str) -> str:
    text = (text or "").lower()
    text = _EMAIL.sub(" emailaddr ", text)
    text = _ORDER_LIKE.sub(" 9 ", text)
    text = _DIGITS.sub(" 9 ", text)
    text = text.replace("’", "'")
    return _SPACES.sub(" ", text).strip()


# Chat shorthand seen in real shoppers' messages; applied to training text so the model sees it.
SHORTHAND = {
    "you": "u",
    "your": "ur",
    "you're": "ur",
    "please": "pls",
    "thanks": "thx",
    "are": "r",
    "order": "ordr",
    "account": "acct",
    "password": "pwd",
    "address": "addr",
    "because": "cuz",
    "what is": "whats",
    "where is": "wheres",
    "i am": "im",
    "can't": "cant",
    "don't": "dont",
    "do not": "dont",
    "want to": "wanna",
    "going to": "gonna",
    "information": "info",
    "received": "recieved",
    "cancel": "cancle",
    "delivery": "delivry",
    "refund": "refnd",
}


def add_shorthand(text: str, rng: random.Random, p: float = 0.5) -> str:
    out = " " + text.lower() + " "
    for long, short in SHORTHAND.items():
        if f" {long} " in out and rng.random() < p:
            out = out.replace(f" {long} ", f" {short} ")
    return out.strip()


def add_typos(text: str, rng: random.Random, n: int = 1) -> str:
    """Drop, double or swap a letter inside a word (the common phone-keyboard slips)."""
    chars = list(text)
    for _ in range(n):
        positions = [i for i in range(1, len(chars) - 1) if chars[i].isalpha() and chars[i - 1].isalpha()]
        if not positions:
            break
        i = rng.choice(positions)
        kind = rng.random()
        if kind < 0.4:
            del chars[i]
        elif kind < 0.7:
            chars.insert(i, chars[i])
        elif i + 1 < len(chars) and chars[i + 1].isalpha():
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


def strip_politeness(text: str) -> str:
    """Shoppers type terse messages: 'i would like to cancel my order' -> 'cancel my order'."""
    return re.sub(
        r"^(?:(?:hi|hello|hey|please|pls|can you|could you|could i|can i|i would like to|i'd like to|"
        r"i want to|i need to|i need|i want|i have to|help me|help me to|i need help|i need help to|"
        r"i need assistance|i need assistance to|i'd need|would it be possible to|how can i|how do i)\s+)+",
        "",
        text.strip(),
        flags=re.IGNORECASE,
    )

"""Text helpers shared by training and serving (the same normalisation on both sides)."""

from __future__ import annotations

import random
import re
from pathlib import Path

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Shop order numbers (W + date + hex) and any run of digits: the classifier should learn
# "order <number>", not memorise particular numbers.
_ORDER_LIKE = re.compile(r"\b[wW]\d{6}[0-9A-Fa-f]{2,8}\b")
_DIGITS = re.compile(r"\d+(?:[.,]\d+)?")
_SPACES = re.compile(r"\s+")
# Traditional -> simplified Chinese, one character to one (2,702 pairs): line 1 of the file holds
# the traditional characters, line 2 their simplified forms, in the same order. Derived from the
# character map of hanziconv 0.3.2 (Apache-2.0, (c) 2014 Bernard Yue; CUHK's list plus extras).
# Word-level differences (計程車/出租车) are left to the character n-grams and the encoder.
_T2S_FILE = Path(__file__).resolve().parent / "t2s_chars.txt"
_traditional, _simplified = _T2S_FILE.read_text(encoding="utf-8").split("\n")[:2]
_T2S = str.maketrans(_traditional, _simplified)


def detect_language(text: str) -> str:
    """'zh' when the message contains any CJK ideograph, else 'en' (the two languages we answer in)."""
    return "zh" if _CJK.search(text or "") else "en"


def to_simplified(text: str) -> str:
    """Traditional characters to simplified ones (書 -> 书, 帳戶 -> 帐户); anything else unchanged."""
    return (text or "").translate(_T2S)


def normalize(text: str) -> str:
    text = (text or "").lower()
    text = _EMAIL.sub(" emailaddr ", text)
    text = _ORDER_LIKE.sub(" 9 ", text)
    text = _DIGITS.sub(" 9 ", text)
    text = text.replace("’", "'")
    return _SPACES.sub(" ", text).strip()


def normalize_simplified(text: str) -> str:
    """`normalize` after mapping traditional Chinese to simplified: the TF-IDF preprocessor of
    models trained since round 4 (older artifacts keep `normalize`, which they were fitted with)."""
    return normalize(to_simplified(text))


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


# Chinese chat variants (round 4): how shoppers dress the same request. Particles and openers,
# internet spellings (咋, 啥, 木有, 3q) and the English product words mixed into Chinese chat
# (订单 -> order). Applied to training text only, like the English shorthand above.
ZH_OPENERS = ("亲，", "请问", "麻烦问下，", "在吗？", "哎，", "急！", "hello，", "那个，")
ZH_ENDINGS = ("呀", "啊", "哈", "呢", "～", "！！", "？？", "，谢谢", "，急", "捏")
ZH_SWAPS = {
    "怎么": ("咋", "肿么", "怎样"),
    "什么": ("啥", "神马"),
    "没有": ("木有", "没"),
    "谢谢": ("3q", "谢啦", "多谢"),
    "是不是": ("是不",),
    "不知道": ("不造",),
    "这样": ("酱紫",),
    "订单": ("order", "单子"),
    "退款": ("refund", "退钱"),
    "发票": ("invoice",),
    "密码": ("password", "pw"),
    "账号": ("account", "号"),
    "账户": ("account",),
    "地址": ("address",),
    "包裹": ("package", "快递"),
    "取消": ("cancel",),
    "评价": ("review", "好评"),
    "客服": ("cs", "小二"),
    "注册": ("sign up",),
    "优惠": ("discount",),
}
# Short social messages keep their shape: an opener would turn "谢谢" into a question.
_ZH_NO_OPENER = {"greeting", "thanks", "goodbye"}


def zh_chat_variant(text: str, intent: str, rng: random.Random) -> str:
    out = text.strip()
    for word, choices in ZH_SWAPS.items():
        if word in out and rng.random() < 0.5:
            out = out.replace(word, rng.choice(choices))
    if intent not in _ZH_NO_OPENER and rng.random() < 0.35:
        out = rng.choice(ZH_OPENERS) + out
    if rng.random() < 0.35:
        out = out.rstrip("。！？!?～~") + rng.choice(ZH_ENDINGS)
    return out

"""Entity extraction: order numbers, emails, money amounts and catalog product mentions.

Rules, not a model: these entities have fixed shapes (UCI invoices are 6 digits, shop orders are
W + 6 date digits + hex), and a rule never invents an order number the shopper did not type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

# UCI invoice numbers are 6 digits (cancellations prefixed C); shop orders W<yymmdd><hex>, and
# any other W-prefixed id of 6-12 letters/digits with a run of 4+ digits (e.g. the demo's WDEMO0003;
# the digit run keeps words such as "Wednesday" out).
_ORDER = re.compile(
    r"(?<![A-Za-z0-9_@.])#?\s?((?:[Ww]\d{6}[0-9A-Fa-f]{2,8})|(?:[Ww](?=[0-9A-Za-z]*\d{4})[0-9A-Za-z]{6,12})"
    r"|(?:[Cc]?\d{6})|(?:[Tt]\d{6}))(?![A-Za-z0-9_@])"
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_AMOUNT_PATTERNS = (
    re.compile(r"(?P<cur>[£$€¥])\s?(?P<num>\d+(?:[.,]\d{1,2})?)"),
    re.compile(
        r"(?P<num>\d+(?:\.\d{1,2})?)\s?(?P<cur>pounds?|quid|gbp|dollars?|usd|euros?|eur|镑|英镑|元|块|rmb)",
        re.IGNORECASE,
    ),
)
SHOP_CURRENCY = "GBP"
_CURRENCY = {
    "£": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
    "quid": "GBP",
    "gbp": "GBP",
    "镑": "GBP",
    "英镑": "GBP",
    "$": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "usd": "USD",
    "€": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "eur": "EUR",
    "¥": "CNY",
    "元": "CNY",
    "块": "CNY",
    "rmb": "CNY",
}
_UNDER = re.compile(
    r"\b(under|below|less than|max(?:imum)?|up to|no more than|within)\b|以内|以下|之内|不超过", re.IGNORECASE
)


@dataclass(frozen=True)
class Amount:
    value: Decimal
    currency: str
    is_maximum: bool


@dataclass
class Entities:
    order_numbers: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    amounts: list[Amount] = field(default_factory=list)
    product_ids: list[int] = field(default_factory=list)

    @property
    def order_number(self) -> str:
        return self.order_numbers[0] if self.order_numbers else ""

    @property
    def email(self) -> str:
        return self.emails[0] if self.emails else ""

    @property
    def max_price(self) -> Decimal | None:
        """The price cap in the shop's currency (GBP). A cap in another currency ("100元以内",
        "under $20") is not applied: read as pounds it would be wrong by the exchange rate, and
        the bot keeps no rates."""
        maxima = [a.value for a in self.amounts if a.is_maximum and a.currency == SHOP_CURRENCY]
        return min(maxima) if maxima else None

    def as_dict(self) -> dict:
        return {
            "order_numbers": self.order_numbers,
            "emails": self.emails,
            "amounts": [
                {"value": str(a.value), "currency": a.currency, "is_maximum": a.is_maximum} for a in self.amounts
            ],
            "product_ids": self.product_ids,
        }


def extract_order_numbers(text: str) -> list[str]:
    without_emails = _EMAIL.sub(" ", text or "")
    found = []
    for match in _ORDER.finditer(without_emails):
        number = match.group(1).upper()
        if number not in found:
            found.append(number)
    return found


def extract_emails(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(0).lower() for m in _EMAIL.finditer(text or "")))


def extract_amounts(text: str) -> list[Amount]:
    text = text or ""
    out = []
    for pattern in _AMOUNT_PATTERNS:
        for match in pattern.finditer(text):
            try:
                value = Decimal(match.group("num").replace(",", "."))
            except InvalidOperation:
                continue
            currency = _CURRENCY.get(match.group("cur").lower(), "GBP")
            before = text[max(0, match.start() - 25) : match.start()]
            after = text[match.end() : match.end() + 6]
            is_maximum = bool(_UNDER.search(before) or _UNDER.search(after))
            out.append(Amount(value=value, currency=currency, is_maximum=is_maximum))
    return out


class ProductMatcher:
    """Finds catalog titles mentioned in a message: every significant title word must appear.

    Built from (id, title) pairs so it stays Django-free; the service caches one per catalog size.
    """

    STOP = frozenset("a an the of and for with in on set to by my your 's".split())

    def __init__(self, products: list[tuple[int, str]]):
        self._index: list[tuple[int, frozenset[str], int]] = []
        # Each title filed under one of its words (any one will do: a title matches only when all
        # of its words are in the message), so a message checks the titles filed under its own
        # words instead of the whole catalog. Same hits as scanning every title.
        self._by_word: dict[str, list[tuple[int, frozenset[str], int]]] = {}
        for product_id, title in products:
            words = frozenset(w for w in re.findall(r"[a-z]+", title.lower()) if len(w) > 2 and w not in self.STOP)
            if len(words) >= 2:
                entry = (product_id, words, len(words))
                self._index.append(entry)
                self._by_word.setdefault(min(words), []).append(entry)

    def match(self, text: str, limit: int = 5) -> list[int]:
        words = set(re.findall(r"[a-z]+", (text or "").lower()))
        if len(words) < 2:
            return []
        hits = [
            (size, pid)
            for word in words
            for pid, title_words, size in self._by_word.get(word, ())
            if title_words <= words
        ]
        hits.sort(reverse=True)  # the most specific (longest) title first
        return [pid for _, pid in hits[:limit]]


def extract(text: str, *, products: ProductMatcher | None = None) -> Entities:
    return Entities(
        order_numbers=extract_order_numbers(text),
        emails=extract_emails(text),
        amounts=extract_amounts(text),
        product_ids=products.match(text) if products is not None else [],
    )

"""What the bot (and a Rasa assistant) can do for a shopper, always AS that shopper.

Every order action goes through ecommerce.services.orders with `actor` (and, for an anonymous
shopper, the email they gave): the service decides ownership, so a shopper can only see or change
their own orders, and another person's order answers exactly like a missing one. Replies are
built from the rows the services return: nothing about an order is ever made up.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.urls import NoReverseMatch, reverse

from ecommerce.errors import DomainError, InvalidTransition, NotFound
from ecommerce.models import Order, Product, User
from ecommerce.money import format_money
from ecommerce.selectors.catalog import product_list
from ecommerce.selectors.orders import order_numbers_for
from ecommerce.services import orders as order_services

from . import engine
from .replies import render, status_name

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shopper:
    """Who the bot acts for: a signed-in user, or an anonymous session plus the email they gave."""

    user: User | None = None
    email: str = ""
    session_key: str = ""
    language: str = "en"

    @property
    def is_authenticated(self) -> bool:
        return bool(self.user is not None and self.user.is_authenticated)


@dataclass
class ActionResult:
    reply: str
    ok: bool = True
    code: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def _money(amount: Decimal, currency: str) -> str:
    return format_money(amount, currency)  # the shop's one money format (ecommerce/money.py)


def _facts(order: Order, lines: list[tuple[int, Decimal]], language: str) -> dict[str, Any]:
    """What a reply says about an order; `lines` are its (quantity, unit price) pairs."""
    return {
        "number": order.number,
        "items": sum(max(quantity, 0) for quantity, _ in lines),
        "total": _money(sum((price * quantity for quantity, price in lines), Decimal("0")), order.currency),
        "placed": order.placed_at.date().isoformat(),
        "status": status_name(order.status, language),
    }


def _order_facts(order: Order, language: str) -> dict[str, Any]:
    return _facts(order, [(i.quantity, i.unit_price) for i in order.items.all()], language)


def _own_order_with_facts(shopper: Shopper, number: str, language: str) -> tuple[Order, dict[str, Any]] | None:
    """A signed-in shopper's own order and its facts in one query (the order joined to its
    lines), else None: then the order service decides (guest orders proven by email, staff
    permissions, NotFound), as before. An own order is what the service would return too."""
    if not shopper.is_authenticated:
        return None
    fields = [f.attname for f in Order._meta.concrete_fields]
    qs = Order.objects.owned_by(shopper.user).filter(number=str(number).strip()).order_by()
    rows = list(qs.values_list(*fields, "items__quantity", "items__unit_price"))
    if not rows:
        return None
    order = Order.from_db(qs.db, fields, rows[0][: len(fields)])
    lines = [(row[-2], row[-1]) for row in rows if row[-2] is not None]
    return order, _facts(order, lines, language)


def _order_and_facts(shopper: Shopper, number: str) -> tuple[Order | None, dict[str, Any]]:
    own = _own_order_with_facts(shopper, number, shopper.language)
    if own is not None:
        return own
    order = order_lookup(shopper, number)
    return order, (_order_facts(order, shopper.language) if order is not None else {})


def _actor(shopper: Shopper) -> User | None:
    return shopper.user if shopper.is_authenticated else None


def needs_email(shopper: Shopper) -> bool:
    """An anonymous shopper must prove an order with its email before anything is revealed."""
    return not shopper.is_authenticated and not shopper.email


def orders_to_choose_from(shopper: Shopper, *, open_only: bool = False, limit: int = 5) -> list[str]:
    if not shopper.is_authenticated:
        return []
    return order_numbers_for(user=shopper.user, open_only=open_only, limit=limit)


def order_lookup(shopper: Shopper, number: str) -> Order | None:
    try:
        return order_services.order_get_for_actor(number=number, actor=_actor(shopper), email=shopper.email)
    except NotFound:
        logger.info("support.order_lookup_denied_or_missing")
        return None


def _not_found(shopper: Shopper) -> ActionResult:
    return ActionResult(render("order_not_found", shopper.language), ok=False, code="not_found")


def order_status(shopper: Shopper, number: str) -> ActionResult:
    lang = shopper.language
    order, facts = _order_and_facts(shopper, number)
    if order is None:
        return _not_found(shopper)
    extra = ""
    if order.shipped_at and order.tracking_number:
        extra += render("tracking", lang, shipped=order.shipped_at.date().isoformat(), tracking=order.tracking_number)
    if order.delivered_at:
        extra += render("delivered", lang, delivered=order.delivered_at.date().isoformat())
    return ActionResult(
        render("order_status", lang, extra=extra, **facts),
        code="status",
        data={"order": order.number, "status": order.status},
    )


def cancel_check(shopper: Shopper, number: str) -> ActionResult:
    """Before asking for confirmation: is it theirs, and can it still be cancelled?"""
    order, facts = _order_and_facts(shopper, number)
    if order is None:
        return _not_found(shopper)
    if not order.can_cancel():
        return ActionResult(render("cannot_cancel", shopper.language, **facts), ok=False, code="not_allowed")
    return ActionResult(render("confirm_cancel", shopper.language, **facts), code="confirm")


def cancel_order(shopper: Shopper, number: str) -> ActionResult:
    try:
        order = order_services.order_cancel(number=number, actor=_actor(shopper), email=shopper.email)
    except NotFound:
        return _not_found(shopper)
    except InvalidTransition:
        order = order_lookup(shopper, number)
        facts = _order_facts(order, shopper.language) if order else {"number": number, "status": ""}
        return ActionResult(render("cannot_cancel", shopper.language, **facts), ok=False, code="not_allowed")
    logger.info("support.order_cancelled", extra={"order_id": order.pk})
    return ActionResult(
        render("cancelled", shopper.language, number=order.number),
        code="done",
        data={"order": order.number, "status": order.status},
    )


def change_address_check(shopper: Shopper, number: str) -> ActionResult:
    order = order_lookup(shopper, number)
    if order is None:
        return _not_found(shopper)
    if not order.can_change_address():
        return ActionResult(
            render("cannot_change_address", shopper.language, number=order.number), ok=False, code="not_allowed"
        )
    return ActionResult(render("ask_address", shopper.language, number=order.number), code="ask_address")


def change_address(shopper: Shopper, number: str, address: str) -> ActionResult:
    try:
        order = order_services.order_change_address(
            number=number, actor=_actor(shopper), address=address, email=shopper.email
        )
    except NotFound:
        return _not_found(shopper)
    except InvalidTransition:
        return ActionResult(
            render("cannot_change_address", shopper.language, number=number), ok=False, code="not_allowed"
        )
    except DomainError as error:
        return ActionResult(str(error), ok=False, code="invalid")
    return ActionResult(
        render("address_changed", shopper.language, number=order.number), code="done", data={"order": order.number}
    )


def return_check(shopper: Shopper, number: str) -> ActionResult:
    """Is it theirs and returnable? Then list what can still be returned (data["items"])."""
    lang = shopper.language
    order = order_lookup(shopper, number)
    if order is None:
        return _not_found(shopper)
    facts = _order_facts(order, lang)
    # The rule lives in the service; the bot only words its answer in the shopper's language.
    refusal = order_services.order_return_refusal_code(order)
    if refusal == order_services.RETURN_REFUSED_STATUS:
        reason = {
            "en": f"it is {facts['status']}; only shipped or delivered orders can be returned.",
            "zh": f"订单状态为{facts['status']}，只有已发货或已送达的订单可以退货。",
        }[lang]
    elif refusal == order_services.RETURN_REFUSED_WINDOW:
        reason = {
            "en": f"it is past the {order_services.RETURN_WINDOW_DAYS}-day return window.",
            "zh": f"已超过 {order_services.RETURN_WINDOW_DAYS} 天退货期限。",
        }[lang]
    if refusal:
        return ActionResult(
            render("cannot_return", lang, number=order.number, reason=reason), ok=False, code="not_allowed"
        )
    remaining = order_services.order_returnable_quantities(order)
    items = [
        {"id": item.pk, "title": item.title[:80], "max": remaining.get(item.pk, 0)}
        for item in order.items.order_by("line_number", "pk")
        if remaining.get(item.pk, 0) > 0
    ]
    if not items:
        return ActionResult(render("nothing_to_return", lang, number=order.number), ok=False, code="nothing")
    listing = "\n".join(
        render("return_item_line", lang, index=i, title=item["title"], max=item["max"])
        for i, item in enumerate(items, start=1)
    )
    return ActionResult(
        render("ask_return_items", lang, number=order.number, items=listing),
        code="ask_items",
        data={"order": order.number, "items": items},
    )


def return_check_all(shopper: Shopper, number: str) -> ActionResult:
    """For the one-step Rasa action: confirm a request for everything still returnable."""
    result = return_check(shopper, number)
    if not result.ok:
        return result
    pending = {"items": result.data["items"], "lines": {str(i["id"]): i["max"] for i in result.data["items"]}}
    reply = render(
        "confirm_return_all", shopper.language, number=number, items=describe_return_lines(pending, shopper.language)
    )
    return ActionResult(reply, code="confirm", data=result.data)


def describe_return_lines(pending: dict[str, Any], language: str) -> str:
    """ "2 × Mug, 1 × Candle" from the dialogue's pending return (titles as listed to the shopper)."""
    titles = {str(item["id"]): item["title"] for item in pending.get("items") or []}
    sep = "、" if language == "zh" else ", "
    return sep.join(
        f"{quantity} × {titles.get(str(item_id), '?')}" for item_id, quantity in (pending.get("lines") or {}).items()
    )


def return_create(shopper: Shopper, number: str, *, lines: dict[int, int], reason: str) -> ActionResult:
    """A per-item return request through the same service as the order page."""
    try:
        created = order_services.return_request_create(
            number=number, actor=_actor(shopper), email=shopper.email, lines=lines, reason=reason
        )
    except NotFound:
        return _not_found(shopper)
    except DomainError as error:
        return ActionResult(
            render("cannot_return", shopper.language, number=number, reason=str(error)), ok=False, code="not_allowed"
        )
    logger.info("support.return_requested", extra={"return_id": created.pk})
    return ActionResult(
        render("returned", shopper.language, number=number, id=created.pk),
        code="done",
        data={"order": number, "return": created.pk, "return_status": created.status},
    )


def return_request(shopper: Shopper, number: str) -> ActionResult:
    """Everything still returnable on the order, as one request (the Rasa action's one-step form)."""
    try:
        created = order_services.order_request_return(
            number=number, actor=_actor(shopper), email=shopper.email, reason="Requested through the assistant"
        )
    except NotFound:
        return _not_found(shopper)
    except DomainError as error:
        return ActionResult(
            render("cannot_return", shopper.language, number=number, reason=str(error)), ok=False, code="not_allowed"
        )
    return ActionResult(
        render("returned", shopper.language, number=number, id=created.pk),
        code="done",
        data={"order": number, "status": created.order.status, "return": created.pk, "return_status": created.status},
    )


def refund_info(shopper: Shopper, number: str = "") -> ActionResult:
    if not number:
        return ActionResult(engine.policy_text("refunds", shopper.language), code="policy")
    order = order_lookup(shopper, number)
    if order is None:
        return _not_found(shopper)
    return ActionResult(
        render(
            "refund_status", shopper.language, number=order.number, status=status_name(order.status, shopper.language)
        ),
        code="status",
    )


def invoice(shopper: Shopper, number: str) -> ActionResult:
    order = order_lookup(shopper, number)
    if order is None:
        return _not_found(shopper)
    items = list(order.items.all()[:10])
    lines = "; ".join(f"{i.quantity} × {i.title} {_money(i.unit_price, order.currency)}" for i in items)
    try:
        url = reverse("storefront:order_detail", args=[order.number])
    except NoReverseMatch:
        url = "/account/"
    facts = _order_facts(order, shopper.language)
    return ActionResult(
        render("invoice", shopper.language, number=order.number, lines=lines, total=facts["total"], url=url),
        code="invoice",
        data={"order": order.number},
    )


def policy(shopper: Shopper, key: str) -> ActionResult:
    return ActionResult(engine.policy_text(key, shopper.language), code="policy")


_QUERY_STOP = set(
    "a an the for my me i im i'm you your some something any anything under below less than over to of and "
    "with is are do does have has got sell show find looking look want need buy gift gifts present presents "
    "idea ideas recommend recommendation recommendations suggest please pls can could would like nice good "
    "cheap best mum mom mother dad father sister brother wife husband girlfriend boyfriend friend son "
    "daughter kid kids baby birthday christmas pounds pound quid what which there this that it".split()
)


def _query_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 2 and w not in _QUERY_STOP][:4]


def product_suggestions(
    shopper: Shopper, text: str, *, max_price: Decimal | None = None, k: int = 3, product_ids: list[int] | None = None
) -> ActionResult:
    """Catalog search on the message's content words, then the recommender, capped by the price."""
    chosen: list[Product] = []

    def take(candidates) -> None:
        for product in candidates:
            if len(chosen) >= k:
                return
            if max_price is not None and product.price > max_price:
                continue
            if product.pk not in {p.pk for p in chosen}:
                chosen.append(product)

    if product_ids:
        take(Product.objects.sellable().filter(pk__in=product_ids))
    # By meaning first ("a gift for my mum" finds "BEST MUM" titles); keyword search when the
    # semantic index is not built yet, the encoder is unavailable or nothing is close enough.
    index = engine.product_search_index()
    hits = index.search(text, max_price=max_price, k=k * 3) if index is not None else []
    if hits:
        found = Product.objects.sellable().in_stock().in_bulk([hit.product_id for hit in hits])
        take(found[hit.product_id] for hit in hits if hit.product_id in found)
    for word in _query_words(text) if not hits or not chosen else []:
        qs = product_list(query=word, in_stock_only=True)
        if max_price is not None:
            qs = qs.filter(price__lte=max_price)
        take(qs[:k])
    if len(chosen) < k:
        try:
            from recommendations.selectors import products_recommended_for
        except ImportError:  # the recommender app is optional for the bot
            products_recommended_for = None
        if products_recommended_for is not None:
            take(products_recommended_for(user=_actor(shopper), session_key=shopper.session_key, k=30))
    if len(chosen) < k:
        qs = product_list(in_stock_only=True)
        if max_price is not None:
            qs = qs.filter(price__lte=max_price).order_by("-price")
        take(qs[: k * 3])
    lang = shopper.language
    price = render("products_price", lang, amount=_money(max_price, "GBP")) if max_price is not None else ""
    if not chosen:
        return ActionResult(render("no_products", lang, price=price), ok=False, code="no_products")
    items = "; ".join(f"{p.title} ({_money(p.price, p.currency)})" for p in chosen)
    data = {
        "products": [{"id": p.pk, "title": p.title, "price": str(p.price), "url": p.get_absolute_url()} for p in chosen]
    }
    return ActionResult(render("products", lang, price=price, items=items), code="products", data=data)

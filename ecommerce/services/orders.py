"""Order writes. Every status change goes through order_transition: the lifecycle lives here once.

Services that act for a shopper take `actor` and check ownership themselves (the support bot and
the storefront call the same functions), raising NotFound for someone else's order so that
nothing reveals it exists. Only the ecommerce.view_customer_orders / ecommerce.manage_orders
permissions (ecommerce/roles.py) reach other customers' orders.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..errors import DomainError, InvalidTransition, NotFound, PermissionDenied
from ..models import Cart, Event, Order, OrderItem, Product, ReturnLine, ReturnRequest, User
from ..privacy import NO_TRACKING, Tracking
from ..roles import MANAGE_ORDERS, MANAGE_RETURNS, VIEW_CUSTOMER_ORDERS, perm_require, user_can
from ..selectors.cart import cart_summary_forget
from .catalog import catalogue_changed
from .events import event_id_for, event_record

logger = logging.getLogger(__name__)

RETURN_WINDOW_DAYS = 30


def _order_for_actor(
    *, number: str, actor: User | None, email: str = "", for_update: bool = False, perm: str = VIEW_CUSTOMER_ORDERS
) -> Order:
    """An order the actor may act on: their own, a guest order proven by number + email, or any
    order when the actor holds `perm` (VIEW_CUSTOMER_ORDERS to read, MANAGE_ORDERS to change).
    Being staff grants nothing here."""
    qs = Order.objects.select_for_update() if for_update else Order.objects.all()
    order = qs.filter(number=str(number).strip()).first()
    if order is None:
        raise NotFound("No order with that number was found for you.")
    if actor is not None and actor.is_authenticated and order.user_id == actor.pk:
        return order
    if email and order.email and order.email.strip().lower() == email.strip().lower():
        return order
    if user_can(actor, perm):
        return order
    # Same message as a missing order: another customer's order must not be revealed.
    raise NotFound("No order with that number was found for you.")


def order_get_for_actor(*, number: str, actor: User | None, email: str = "") -> Order:
    return _order_for_actor(number=number, actor=actor, email=email)


@transaction.atomic
def order_transition(*, order: Order, to_status: str, note: str = "") -> Order:
    """Move an order along its lifecycle (Order.TRANSITIONS), stamping times and restocking."""
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if not locked.can_transition_to(to_status):
        raise InvalidTransition(
            f"Order {locked.number} is {locked.get_status_display().lower()} and cannot become {to_status}."
        )
    now = timezone.now()
    updates = ["status", "updated_at"]
    if to_status == Order.Status.SHIPPED:
        locked.shipped_at = now
        if not locked.tracking_number:
            locked.tracking_number = "TRK" + secrets.token_hex(5).upper()
        updates += ["shipped_at", "tracking_number"]
    if to_status == Order.Status.DELIVERED:
        locked.delivered_at = now
        updates.append("delivered_at")
    if to_status in (Order.Status.CANCELLED, Order.Status.RETURNED):
        for line in locked.items.filter(quantity__gt=0):
            Product.objects.filter(pk=line.product_id).update(stock=F("stock") + line.quantity)
        catalogue_changed()
    locked.status = to_status
    locked.save(update_fields=updates)
    logger.info("order.transition", extra={"order_id": locked.pk, "to_status": to_status})
    return locked


REFUND_BEFORE_SHIPPING_REASON = "Cancelled before shipping: refunded in full"


def _refund_record(*, order: Order, actor: User | None, reason: str) -> ReturnRequest:
    """The refund of a paid order that never shipped, kept where every refund is kept: a return
    request in status `refunded` covering every line, with the amount paid. Nothing travels back,
    so it has no received_at; the stock came back with the cancellation."""
    now = timezone.now()
    refund = ReturnRequest.objects.create(
        order=order,
        reason=reason[:RETURN_REASON_MAX_CHARS],
        status=ReturnRequest.Status.REFUNDED,
        requested_by=actor if actor is not None and actor.is_authenticated else None,
        approved_at=now,
        refunded_at=now,
    )
    lines = [
        ReturnLine(return_request=refund, item=item, quantity=item.quantity)
        for item in order.items.filter(quantity__gt=0)
    ]
    ReturnLine.objects.bulk_create(lines)
    refund.refund_amount = refund.amount()
    refund.save(update_fields=["refund_amount"])
    logger.info("order.refunded", extra={"order_id": order.pk, "return_id": refund.pk})
    return refund


def order_cancel(*, number: str, actor: User | None, email: str = "") -> Order:
    """Cancel a pending or paid order (shopper, bot, API, admin). A paid order is refunded in full
    at the same time (see _refund_record), so cancelling never keeps a customer's money."""
    with transaction.atomic():
        order = _order_for_actor(number=number, actor=actor, email=email, for_update=True, perm=MANAGE_ORDERS)
        if not order.can_cancel():
            raise InvalidTransition(
                f"Order {order.number} is {order.get_status_display().lower()} and can no longer be cancelled."
            )
        was_paid = order.status == Order.Status.PAID
        cancelled = order_transition(order=order, to_status=Order.Status.CANCELLED)
        if was_paid:
            _refund_record(order=cancelled, actor=actor, reason=REFUND_BEFORE_SHIPPING_REASON)
        return cancelled


# --- the merchant's moves on any order (admin actions); ecommerce.manage_orders checked here ---

TRACKING_NUMBER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./-]{2,63}$")


def _order_for_merchant(*, order_id: int, actor: User | None) -> Order:
    perm_require(actor, MANAGE_ORDERS, "You may not manage customers' orders.")
    order = Order.objects.select_for_update().filter(pk=order_id).first()
    if order is None:
        raise NotFound("Order not found.")
    return order


def order_mark_shipped(*, order_id: int, actor: User | None, tracking_number: str) -> Order:
    """A paid order leaves the warehouse with the carrier's tracking number (required)."""
    tracking_number = " ".join((tracking_number or "").split())
    perm_require(actor, MANAGE_ORDERS, "You may not manage customers' orders.")
    if not tracking_number:
        raise DomainError("Give the carrier's tracking number.")
    if not TRACKING_NUMBER_RE.match(tracking_number):
        raise DomainError("A tracking number is 3 to 64 letters, digits, spaces, dots, slashes or dashes.")
    with transaction.atomic():
        order = _order_for_merchant(order_id=order_id, actor=actor)
        if not order.can_transition_to(Order.Status.SHIPPED):
            raise InvalidTransition(
                f"Order {order.number} is {order.get_status_display().lower()}; only paid orders can be shipped."
            )
        order.tracking_number = tracking_number
        order.save(update_fields=["tracking_number", "updated_at"])
        return order_transition(order=order, to_status=Order.Status.SHIPPED)


def order_refund(*, order_id: int, actor: User | None, reason: str = REFUND_BEFORE_SHIPPING_REASON) -> ReturnRequest:
    """Refund a whole paid order that has not shipped: cancel it (stock comes back) and record the
    refund as a `refunded` return request. A shipped order is refunded through a return request
    (approve, receive the goods, refund), so money only goes back for goods that came back."""
    with transaction.atomic():
        order = _order_for_merchant(order_id=order_id, actor=actor)
        if order.status == Order.Status.PENDING:
            raise InvalidTransition(f"Order {order.number} was never paid: cancel it instead.")
        if order.status in RETURNABLE_STATUSES:
            raise InvalidTransition(
                f"Order {order.number} has shipped: refund it through a return request "
                "(approve, receive the goods, then refund)."
            )
        if order.status != Order.Status.PAID:
            raise InvalidTransition(
                f"Order {order.number} is {order.get_status_display().lower()} and cannot be refunded."
            )
        cancelled = order_transition(order=order, to_status=Order.Status.CANCELLED)
        return _refund_record(order=cancelled, actor=actor, reason=reason or REFUND_BEFORE_SHIPPING_REASON)


def order_cancel_for_merchant(*, order_id: int, actor: User | None) -> Order:
    """The admin's Cancel: the same rule as order_cancel (a paid order is refunded too)."""
    perm_require(actor, MANAGE_ORDERS, "You may not manage customers' orders.")
    order = Order.objects.filter(pk=order_id).only("number").first()
    if order is None:
        raise NotFound("Order not found.")
    return order_cancel(number=order.number, actor=actor)


def order_change_address(*, number: str, actor: User | None, address: str, email: str = "") -> Order:
    address = (address or "").strip()
    if not address or len(address) > 1000:
        raise DomainError("Give a shipping address of at most 1,000 characters.")
    with transaction.atomic():
        order = _order_for_actor(number=number, actor=actor, email=email, for_update=True, perm=MANAGE_ORDERS)
        if not order.can_change_address():
            raise InvalidTransition(f"Order {order.number} has already shipped; its address cannot change.")
        order.shipping_address = address
        order.save(update_fields=["shipping_address", "updated_at"])
        return order


def order_return_deadline(order: Order):
    base = order.delivered_at or order.shipped_at or order.placed_at
    return base + timedelta(days=RETURN_WINDOW_DAYS)


def order_request_return(
    *, number: str, actor: User | None, email: str = "", reason: str = "Whole order"
) -> ReturnRequest:
    """A return request for everything still returnable on the order (the Rasa action uses it)."""
    with transaction.atomic():
        order = _order_for_actor(number=number, actor=actor, email=email, for_update=True, perm=MANAGE_ORDERS)
        lines = {item_id: qty for item_id, qty in order_returnable_quantities(order).items() if qty > 0}
        return return_request_create(number=order.number, actor=actor, email=email, lines=lines, reason=reason)


def _next_order_number() -> str:
    # Shop orders get a 'W' prefix so they can never collide with imported invoice numbers.
    return "W" + timezone.now().strftime("%y%m%d") + secrets.token_hex(3).upper()


@transaction.atomic
def order_place_from_cart(
    *,
    cart: Cart,
    user: User | None,
    email: str,
    shipping_name: str,
    shipping_address: str,
    country: str = "",
    tracking: Tracking = NO_TRACKING,
    simulate_payment: bool = True,
) -> Order:
    """Turn a cart into an order, reserve stock, take the (simulated) payment, log the purchase.

    The purchase events follow the consent rule (`tracking`): the order is a contract and is
    always kept; the behaviour log records it only for a consenting shopper.
    """
    items = list(cart.items.select_related("product").select_for_update())
    if not items:
        raise DomainError("Your cart is empty.")
    if not email and not (user and user.is_authenticated and user.email):
        raise DomainError("An email address is needed for the order confirmation.")
    order = Order.objects.create(
        number=_next_order_number(),
        user=user if user and user.is_authenticated else None,
        email=email or (user.email if user else ""),
        shipping_name=shipping_name,
        shipping_address=shipping_address,
        country=country,
        currency=items[0].product.currency,
    )
    for line_number, item in enumerate(items, start=1):
        product = item.product
        if not product.is_active or product.is_non_product:
            raise DomainError(f"{product.title} is no longer for sale.")
        # Conditional update: two shoppers cannot both take the last unit.
        taken = Product.objects.filter(pk=product.pk, stock__gte=item.quantity).update(stock=F("stock") - item.quantity)
        if not taken:
            raise DomainError(f"Only {product.stock} of {product.title} left in stock.")
        OrderItem.objects.create(
            order=order,
            product=product,
            title=product.title,
            quantity=item.quantity,
            unit_price=product.price,
            line_number=line_number,
        )
    cart.items.all().delete()
    cart_summary_forget(cart.user_id)
    catalogue_changed()  # stock counts on the pages moved
    if simulate_payment:
        order = order_transition(order=order, to_status=Order.Status.PAID)
    total = sum((i.product.price * i.quantity for i in items), Decimal("0"))
    for item in items:
        event_record(
            type=Event.Type.PURCHASE,
            tracking=tracking,
            product=item.product,
            occurred_at=order.placed_at,
            properties={"order": order.number, "quantity": item.quantity, "price": str(item.product.price)},
            event_id=event_id_for("purchase", order.number, item.product_id),
        )
    logger.info("order.placed", extra={"order_id": order.pk, "lines": len(items), "total": str(total)})
    return order


# --- returns: a request per item and quantity, then requested -> approved -> received -> refunded ---
# The storefront order page, the support bot, the API and the admin all call these functions.

RETURNABLE_STATUSES = (Order.Status.SHIPPED, Order.Status.DELIVERED)
RETURN_REASON_MAX_CHARS = 500


def order_returnable_quantities(order: Order) -> dict[int, int]:
    """Per order line: bought minus already in a (not rejected) return request."""
    taken: dict[int, int] = {}
    for item_id, quantity in (
        ReturnLine.objects.filter(item__order=order)
        .exclude(return_request__status=ReturnRequest.Status.REJECTED)
        .values_list("item_id", "quantity")
    ):
        taken[item_id] = taken.get(item_id, 0) + quantity
    return {item.pk: max(item.quantity, 0) - taken.get(item.pk, 0) for item in order.items.all()}


# Why an order cannot be returned at all (order_return_refusal_code); callers word it themselves.
RETURN_REFUSED_STATUS = "status"  # not shipped or delivered (yet, or any more)
RETURN_REFUSED_WINDOW = "window"  # past RETURN_WINDOW_DAYS


def order_return_refusal_code(order: Order) -> str:
    """The one home of the return rule: '' when the order can be returned, else a RETURN_REFUSED_* code
    (status first, then the return window)."""
    if order.status not in RETURNABLE_STATUSES:
        return RETURN_REFUSED_STATUS
    if timezone.now() > order_return_deadline(order):
        return RETURN_REFUSED_WINDOW
    return ""


def order_return_refusal(order: Order) -> str:
    """Why the order cannot be returned at all, in English ('' when it can)."""
    code = order_return_refusal_code(order)
    if code == RETURN_REFUSED_STATUS:
        return (
            f"Order {order.number} is {order.get_status_display().lower()}; "
            "only shipped or delivered orders can be returned."
        )
    if code == RETURN_REFUSED_WINDOW:
        return f"Order {order.number} is past the {RETURN_WINDOW_DAYS}-day return window."
    return ""


def return_request_create(
    *, number: str, actor: User | None, lines: dict[int, int], reason: str, email: str = ""
) -> ReturnRequest:
    """Ask to return `lines` ({order item id: quantity}) of the actor's own order, with a reason.

    Never more of a line than was bought minus what earlier requests (not rejected) already cover;
    the order row is locked so two requests at once cannot both take the last unit.
    """
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Tell us why you are returning the items.")
    if len(reason) > RETURN_REASON_MAX_CHARS:
        raise DomainError(f"The reason is limited to {RETURN_REASON_MAX_CHARS} characters.")
    wanted: dict[int, int] = {}
    for item_id, quantity in (lines or {}).items():
        try:
            item_id, quantity = int(item_id), int(quantity)
        except (TypeError, ValueError):
            raise DomainError("Quantities must be whole numbers.") from None
        if quantity < 0:
            raise DomainError("Quantities cannot be negative.")
        if quantity:
            wanted[item_id] = wanted.get(item_id, 0) + quantity
    with transaction.atomic():
        order = _order_for_actor(number=number, actor=actor, email=email, for_update=True, perm=MANAGE_ORDERS)
        refusal = order_return_refusal(order)
        if refusal:
            raise (
                InvalidTransition(refusal)
                if order_return_refusal_code(order) == RETURN_REFUSED_STATUS
                else DomainError(refusal)
            )
        if not wanted:
            raise DomainError("Choose at least one item to return.")
        items = {item.pk: item for item in order.items.all()}
        remaining = order_returnable_quantities(order)
        for item_id, quantity in wanted.items():
            if item_id not in items:
                raise DomainError("That item is not part of this order.")
            if quantity > remaining[item_id]:
                raise DomainError(f"You can return at most {max(remaining[item_id], 0)} of {items[item_id].title}.")
        created = ReturnRequest.objects.create(
            order=order,
            reason=reason,
            requested_by=actor if actor is not None and actor.is_authenticated else None,
        )
        ReturnLine.objects.bulk_create(
            [
                ReturnLine(return_request=created, item=items[item_id], quantity=quantity)
                for item_id, quantity in wanted.items()
            ]
        )
    logger.info("order.return_requested", extra={"order_id": order.pk, "return_id": created.pk})
    return created


def _return_transition(*, return_id: int, actor: User | None, to_status: str) -> ReturnRequest:
    if not user_can(actor, MANAGE_RETURNS):
        raise PermissionDenied("You may not manage return requests.")
    with transaction.atomic():
        row = ReturnRequest.objects.select_for_update().filter(pk=return_id).first()
        if row is None:
            raise NotFound("Return request not found.")
        if not row.can_transition_to(to_status):
            raise InvalidTransition(f"Return {row.pk} is {row.status} and cannot become {to_status}.")
        now = timezone.now()
        row.status = to_status
        updates = ["status", "updated_at"]
        if to_status == ReturnRequest.Status.APPROVED:
            row.approved_at = now
            updates.append("approved_at")
        elif to_status == ReturnRequest.Status.RECEIVED:
            # The goods are back on the shelf: restock exactly what came back.
            for line in row.lines.select_related("item"):
                Product.objects.filter(pk=line.item.product_id).update(stock=F("stock") + line.quantity)
            catalogue_changed()
            row.received_at = now
            updates.append("received_at")
        elif to_status == ReturnRequest.Status.REFUNDED:
            row.refund_amount = row.amount()
            row.refunded_at = now
            updates += ["refund_amount", "refunded_at"]
        row.save(update_fields=updates)
    logger.info("order.return_transition", extra={"return_id": row.pk, "to_status": to_status})
    return row


def return_request_approve(*, return_id: int, actor: User | None) -> ReturnRequest:
    return _return_transition(return_id=return_id, actor=actor, to_status=ReturnRequest.Status.APPROVED)


def return_request_receive(*, return_id: int, actor: User | None) -> ReturnRequest:
    return _return_transition(return_id=return_id, actor=actor, to_status=ReturnRequest.Status.RECEIVED)


def return_request_refund(*, return_id: int, actor: User | None) -> ReturnRequest:
    return _return_transition(return_id=return_id, actor=actor, to_status=ReturnRequest.Status.REFUNDED)


def return_request_reject(*, return_id: int, actor: User | None) -> ReturnRequest:
    return _return_transition(return_id=return_id, actor=actor, to_status=ReturnRequest.Status.REJECTED)

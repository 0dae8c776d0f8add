"""Cart writes: a cart belongs to a user or, before login, to the session."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from ..errors import DomainError, NotFound
from ..models import Cart, CartItem, Product, User
from ..selectors.cart import cart_summary_forget

MAX_QUANTITY_PER_LINE = 99


def cart_get_or_create(*, user: User | None, session_key: str | None) -> Cart:
    if user is not None and user.is_authenticated:
        try:
            cart, _ = Cart.objects.get_or_create(user=user)
        except IntegrityError:  # two first requests of the same user raced to create it
            cart = Cart.objects.get(user=user)
        return cart
    if not session_key:
        raise DomainError("A session is needed to keep a cart.")
    try:
        cart, _ = Cart.objects.get_or_create(session_key=session_key)
    except IntegrityError:  # a parallel request created it first
        cart = Cart.objects.get(session_key=session_key)
    return cart


@transaction.atomic
def cart_set_quantity(*, cart: Cart, product_id: int, quantity: int) -> CartItem | None:
    """Set a line's quantity; 0 removes it. Returns the line, or None when removed."""
    if quantity < 0 or quantity > MAX_QUANTITY_PER_LINE:
        raise DomainError(f"Quantity must be between 0 and {MAX_QUANTITY_PER_LINE}.")
    product = Product.objects.sellable().filter(pk=product_id).first()
    if product is None:
        raise NotFound("That product is not for sale.")
    cart_summary_forget(cart.user_id)  # the header's count and the cached cart page
    if quantity == 0:
        CartItem.objects.filter(cart=cart, product=product).delete()
        return None
    if quantity > product.stock:
        raise DomainError(f"Only {product.stock} of {product.title} in stock.")
    item, _ = CartItem.objects.update_or_create(cart=cart, product=product, defaults={"quantity": quantity})
    return item


def cart_add(*, cart: Cart, product_id: int, quantity: int = 1) -> CartItem | None:
    current = CartItem.objects.filter(cart=cart, product_id=product_id).values_list("quantity", flat=True).first() or 0
    return cart_set_quantity(cart=cart, product_id=product_id, quantity=current + quantity)


@transaction.atomic
def cart_merge_into_user(*, session_key: str, user: User) -> Cart:
    """After login, the anonymous session's cart lines join the user's cart."""
    user_cart, _ = Cart.objects.get_or_create(user=user)
    cart_summary_forget(user.pk)
    anonymous = Cart.objects.filter(session_key=session_key).first() if session_key else None
    if anonymous is None or anonymous.pk == user_cart.pk:
        return user_cart
    for item in anonymous.items.all():
        line, created = CartItem.objects.get_or_create(
            cart=user_cart, product_id=item.product_id, defaults={"quantity": item.quantity}
        )
        if not created:
            line.quantity = min(line.quantity + item.quantity, MAX_QUANTITY_PER_LINE)
            line.save(update_fields=["quantity"])
    anonymous.delete()
    return user_cart

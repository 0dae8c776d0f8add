"""Factories for analytics tables, and a small demo-like shop for dashboard and task tests."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import factory

from analytics.models import Segment, SegmentMembership
from ecommerce.models import Cart, CartItem, Event, Order, OrderItem
from tests.factories import CategoryFactory, OrderFactory, ProductFactory, UserFactory


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"segment-{n}")
    name = factory.Sequence(lambda n: f"Segment {n}")
    kind = Segment.Kind.MANUAL


class SegmentMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SegmentMembership

    segment = factory.SubFactory(SegmentFactory)
    user = factory.SubFactory(UserFactory)


def build_demo_shop(*, seed: int = 7, shoppers: int = 40, days: int = 60, end: datetime | None = None) -> dict:
    """A small shop with browsing sessions, orders (some cancelled), searches and carts.

    Two behaviours are planted so clustering has something to find: weekend shoppers buying
    cheap items, and weekday shoppers buying expensive ones.
    """
    rng = random.Random(seed)
    end = end or datetime(2024, 6, 30, 18, tzinfo=UTC)
    categories = [CategoryFactory(name=n, slug=f"demo-{n.lower()}") for n in ("Kitchen", "Garden", "Toys", "Lights")]
    products = [
        ProductFactory(
            title=f"{c.name} item {i}", category=c, price=Decimal(rng.choice(["2.50", "4.99", "12.00", "39.00"]))
        )
        for c in categories
        for i in range(4)
    ]
    fee = ProductFactory(title="POSTAGE", sku="POST-DEMO", is_non_product=True, price=Decimal("3.00"), category=None)
    countries = ["United Kingdom", "United Kingdom", "France", "Germany", "Netherlands"]
    users = [
        UserFactory(country=rng.choice(countries), birth_year=rng.randint(1950, 2004), gender=rng.choice("fmo"))
        for _ in range(shoppers)
    ]
    events, orders = [], 0
    for idx, user in enumerate(users):
        weekend_type = idx % 2 == 0
        for _ in range(rng.randint(2, 6)):
            day = end - timedelta(days=rng.randint(0, days - 1))
            while (day.isoweekday() >= 6) != weekend_type:
                day -= timedelta(days=1)
            t = day.replace(hour=rng.randint(8, 22), minute=rng.randint(0, 59))
            cheap = [p for p in products if p.price < 10] if weekend_type else [p for p in products if p.price >= 10]
            product = rng.choice(cheap)
            anon = f"anon-{idx}"
            events.append(Event(id=uuid.uuid4(), type="page_view", occurred_at=t, user=user, anonymous_id=anon))
            for _ in range(rng.randint(1, 4)):
                events.append(
                    Event(
                        id=uuid.uuid4(),
                        type="product_view",
                        occurred_at=t,
                        user=user,
                        anonymous_id=anon,
                        product=product,
                    )
                )
                t += timedelta(minutes=rng.randint(1, 5))
            if rng.random() < 0.3:
                q = rng.choice(["lamp", "garden gnome", "unicorn", "teapot", "kitchen"])
                events.append(
                    Event(
                        id=uuid.uuid4(),
                        type="search",
                        occurred_at=t,
                        user=user,
                        anonymous_id=anon,
                        query=q,
                        properties={"results": 0} if q == "unicorn" else {},
                    )
                )
            if rng.random() < 0.6:
                t += timedelta(minutes=2)
                events.append(
                    Event(
                        id=uuid.uuid4(),
                        type="add_to_cart",
                        occurred_at=t,
                        user=user,
                        anonymous_id=anon,
                        product=product,
                    )
                )
                if rng.random() < 0.7:
                    t += timedelta(minutes=3)
                    events.append(
                        Event(id=uuid.uuid4(), type="checkout_start", occurred_at=t, user=user, anonymous_id=anon)
                    )
                    if rng.random() < 0.8:
                        t += timedelta(minutes=4)
                        events.append(
                            Event(id=uuid.uuid4(), type="purchase", occurred_at=t, user=user, anonymous_id=anon)
                        )
                        status = Order.Status.CANCELLED if rng.random() < 0.1 else Order.Status.DELIVERED
                        order = OrderFactory(user=user, placed_at=t, status=status, country=user.country)
                        qty = rng.randint(1, 6)
                        OrderItem.objects.create(
                            order=order,
                            product=product,
                            title=product.title,
                            quantity=qty,
                            unit_price=product.price,
                            line_number=1,
                        )
                        OrderItem.objects.create(
                            order=order, product=fee, title=fee.title, quantity=1, unit_price=fee.price, line_number=2
                        )
                        orders += 1
        for _ in range(rng.randint(0, 3)):  # anonymous browsing that never logs in
            t = end - timedelta(days=rng.randint(0, days - 1), hours=rng.randint(0, 10))
            events.append(
                Event(
                    id=uuid.uuid4(),
                    type="product_view",
                    occurred_at=t,
                    anonymous_id=f"guest-{idx}-{rng.randint(0, 9)}",
                    product=rng.choice(products),
                )
            )
    Event.objects.bulk_create(events)
    for user in users[:5]:
        cart = Cart.objects.create(user=user)
        CartItem.objects.create(cart=cart, product=rng.choice(products), quantity=2)
        Cart.objects.filter(pk=cart.pk).update(updated_at=end - timedelta(days=3))
    return {"users": users, "products": products, "events": len(events), "orders": orders, "end": end}

"""factory_boy factories for the core models; the apps add theirs in tests/factories/<app>.py."""

from __future__ import annotations

import uuid
from decimal import Decimal

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from ecommerce.models import Category, Event, Order, OrderItem, Product, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"shopper{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct-horse-battery")
    country = "United Kingdom"
    birth_year = 1990
    gender = "f"


class StaffFactory(UserFactory):
    """A superuser (every permission). For least-privilege tests use RoleStaffFactory."""

    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True
    is_superuser = True


def role_group(role: str) -> Group:
    """The role's group (ecommerce/roles.py); re-created if a transactional test flushed it."""
    from ecommerce.roles import ROLES, role_groups_sync

    group = Group.objects.filter(name=ROLES[role].group).first()
    if group is None:
        role_groups_sync()
        group = Group.objects.get(name=ROLES[role].group)
    return group


class RoleStaffFactory(UserFactory):
    """A staff account in one role: RoleStaffFactory(role="analyst"); role=None is staff with no role."""

    class Meta:
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"employee{n}")
    is_staff = True

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs) -> None:
        if create and extracted:
            self.groups.add(role_group(extracted))


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU{n:05d}")
    title = factory.Sequence(lambda n: f"Product {n}")
    description = "A lovely gift."
    category = factory.SubFactory(CategoryFactory)
    price = Decimal("9.99")
    stock = 50


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"T{n:06d}")
    user = factory.SubFactory(UserFactory)
    email = factory.LazyAttribute(lambda o: o.user.email if o.user else "guest@example.com")
    status = Order.Status.PAID
    placed_at = factory.LazyFunction(timezone.now)
    shipping_name = "A Shopper"
    shipping_address = "1 High Street, London"


class OrderItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderItem

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    title = factory.LazyAttribute(lambda i: i.product.title)
    quantity = 1
    unit_price = factory.LazyAttribute(lambda i: i.product.price)
    line_number = factory.Sequence(lambda n: n + 1)


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    id = factory.LazyFunction(uuid.uuid4)
    type = Event.Type.PRODUCT_VIEW
    occurred_at = factory.LazyFunction(timezone.now)
    product = factory.SubFactory(ProductFactory)

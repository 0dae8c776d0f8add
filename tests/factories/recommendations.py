"""Factories for the recommendations tables."""

from __future__ import annotations

import factory

from recommendations.models import BusinessRules, SimilarProduct, UserRecommendation
from tests.factories import ProductFactory, UserFactory


class UserRecommendationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UserRecommendation

    user = factory.SubFactory(UserFactory)
    product = factory.SubFactory(ProductFactory)
    rank = factory.Sequence(lambda n: n)
    score = 1.0
    reason = "Picked for you"


class SimilarProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SimilarProduct

    product = factory.SubFactory(ProductFactory)
    similar = factory.SubFactory(ProductFactory)
    kind = SimilarProduct.Kind.SIMILAR
    rank = factory.Sequence(lambda n: n)
    score = 0.5


class BusinessRulesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BusinessRules

    name = "Test rules"


def two_cluster_shop(*, customers_per_cluster: int = 6, days: int = 60):
    """A small shop where customers buy inside one of two product clusters over `days`.

    Returns (customers, cluster_a_products, cluster_b_products). Each customer buys most of
    their cluster, one product per order, spread over time, so a temporal split has truth.
    """
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import CategoryFactory, OrderFactory, OrderItemFactory, ProductFactory, UserFactory

    now = timezone.now()
    cat_a, cat_b = CategoryFactory(name="Candles"), CategoryFactory(name="Mugs")
    cluster_a = [ProductFactory(category=cat_a, title=f"Scented candle {i}") for i in range(5)]
    cluster_b = [ProductFactory(category=cat_b, title=f"Ceramic mug {i}") for i in range(5)]
    customers = []
    for c in range(customers_per_cluster * 2):
        customer = UserFactory()
        customers.append(customer)
        products = cluster_a if c % 2 == 0 else cluster_b
        # rotate so different customers buy in different orders
        ordered = products[c % 5 :] + products[: c % 5]
        # first basket holds two products (co-purchase), then one product per order
        for step, basket in enumerate([ordered[0:2], ordered[2:3], ordered[3:4]]):
            placed = now - timedelta(days=days - step * (days // 3) - (c % 3))
            order = OrderFactory(user=customer, placed_at=placed)
            for product in basket:
                OrderItemFactory(order=order, product=product)
    return customers, cluster_a, cluster_b

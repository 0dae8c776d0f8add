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

"""Factories for analytics tables."""

from __future__ import annotations

import factory

from analytics.models import Segment, SegmentMembership
from tests.factories import UserFactory


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

"""Serving reads: the fallback chain, filters and business rules."""

from __future__ import annotations

import pytest

from ecommerce.models import Event
from recommendations.models import SimilarProduct
from recommendations.selectors import (
    buy_it_again_for,
    products_recommended_for,
    recommendations_for,
    similar_products_for,
)
from tests.factories import CategoryFactory, EventFactory, OrderItemFactory, ProductFactory
from tests.factories.recommendations import (
    BusinessRulesFactory,
    SimilarProductFactory,
    UserRecommendationFactory,
)

pytestmark = pytest.mark.django_db


def test_products_recommended_for_empty_catalog_returns_empty(user):
    assert products_recommended_for(user=user) == []


def test_products_recommended_for_cold_user_falls_back_to_catalog(user):
    products = ProductFactory.create_batch(3)
    got = products_recommended_for(user=user, k=10)
    assert {p.pk for p in got} == {p.pk for p in products}


def test_products_recommended_for_anonymous_never_empty():
    ProductFactory()
    assert len(products_recommended_for(user=None, session_key="abc", k=5)) == 1


def test_products_recommended_for_prefers_bestsellers_and_skips_bought(user, other_user):
    best, second, owned = ProductFactory.create_batch(3)
    for buyer in (other_user, user):
        OrderItemFactory(order__user=buyer, product=best)
    OrderItemFactory(order__user=other_user, product=second)
    OrderItemFactory(order__user=user, product=owned)
    got = products_recommended_for(user=user, k=2)
    assert [p.pk for p in got] == [second.pk]
    assert owned.pk not in [p.pk for p in got]


def test_products_recommended_for_everything_bought_still_not_empty(user):
    only = ProductFactory()
    OrderItemFactory(order__user=user, product=only)
    assert [p.pk for p in products_recommended_for(user=user, k=3)] == [only.pk]


def test_products_recommended_for_uses_precomputed_rows_first(user):
    ProductFactory.create_batch(3)
    picked = ProductFactory()
    UserRecommendationFactory(user=user, product=picked, rank=0, score=3.0, reason="Because you bought X")
    recs = recommendations_for(user=user, k=3)
    assert recs[0].product.pk == picked.pk
    assert recs[0].reason == "Because you bought X"


def test_products_recommended_for_excludes_out_of_stock_inactive_and_excluded(user):
    ok = ProductFactory()
    ProductFactory(stock=0)
    ProductFactory(is_active=False)
    ProductFactory(is_non_product=True)
    skipped = ProductFactory()
    got = products_recommended_for(user=user, k=10, exclude_product_ids=[skipped.pk])
    assert [p.pk for p in got] == [ok.pk]


def test_products_recommended_for_session_views_use_similar_items():
    from django.contrib.sessions.backends.db import SessionStore

    from recommendations.selectors import session_view_remember

    viewed, neighbour = ProductFactory.create_batch(2)
    ProductFactory.create_batch(4)
    SimilarProductFactory(product=viewed, similar=neighbour, score=0.9, rank=0)
    session = SessionStore()
    session_view_remember(session=session, product_id=viewed.pk)
    session.save()
    got = products_recommended_for(user=None, session_key=session.session_key, k=3)
    assert got[0].pk == neighbour.pk
    recs = recommendations_for(user=None, session=session, k=3)
    assert viewed.title in recs[0].reason


def test_recommendations_for_logged_in_views_from_event_log(user):
    viewed, neighbour = ProductFactory.create_batch(2)
    ProductFactory.create_batch(3)
    SimilarProductFactory(product=viewed, similar=neighbour, score=0.9, rank=0)
    EventFactory(type=Event.Type.PRODUCT_VIEW, product=viewed, user=user)
    assert recommendations_for(user=user, k=3)[0].product.pk == neighbour.pk


def test_recommendations_for_business_rules_pin_exclude_and_cap(user):
    hidden_cat, cat = CategoryFactory(), CategoryFactory()
    hidden = ProductFactory(category=hidden_cat)
    same_cat = ProductFactory.create_batch(4, category=cat)
    pinned = ProductFactory()
    rules = BusinessRulesFactory(max_per_category=2)
    rules.exclude_categories.add(hidden_cat)
    rules.pinned_products.add(pinned)
    got = products_recommended_for(user=user, k=10)
    ids = [p.pk for p in got]
    assert ids[0] == pinned.pk
    assert hidden.pk not in ids
    assert sum(1 for p in got if p.category_id == cat.pk) == 2
    assert set(ids) <= {pinned.pk} | {p.pk for p in same_cat}


def test_similar_products_for_reads_precomputed_then_category(user):
    product, near = ProductFactory.create_batch(2)
    same_cat = ProductFactory(category=product.category)
    OrderItemFactory(product=same_cat)
    SimilarProductFactory(product=product, similar=near, kind=SimilarProduct.Kind.BOUGHT_TOGETHER)
    got = similar_products_for(product=product, kind=SimilarProduct.Kind.BOUGHT_TOGETHER, k=2)
    assert [r.product.pk for r in got] == [near.pk, same_cat.pk]


def test_buy_it_again_for_lists_repeat_purchases_first(user):
    once, twice = ProductFactory.create_batch(2)
    OrderItemFactory(order__user=user, product=once)
    OrderItemFactory(order__user=user, product=twice)
    OrderItemFactory(order__user=user, product=twice)
    got = buy_it_again_for(user=user, k=5)
    assert [r.product.pk for r in got] == [twice.pk, once.pk]

"""The serving API: shapes, filters, errors and permissions."""

from __future__ import annotations

import pytest

from ecommerce.models import Event
from recommendations.models import SimilarProduct
from tests.factories import OrderItemFactory, ProductFactory
from tests.factories.recommendations import SimilarProductFactory, UserRecommendationFactory

pytestmark = pytest.mark.django_db


def test_me_anonymous_gets_fallback_items_with_all_fields(api_client):
    product = ProductFactory(title="Tea towel")
    response = api_client.get("/api/recommendations/me/?k=5")
    assert response.status_code == 200
    item = response.json()["items"][0]
    assert item["product_id"] == product.pk
    assert item["title"] == "Tea towel"
    assert item["url"] == product.get_absolute_url()
    assert {"price", "score", "reason", "model_version", "source"} <= set(item)


def test_me_logged_in_sees_precomputed_and_never_bought_or_out_of_stock(user_client, user):
    bought, picked = ProductFactory.create_batch(2)
    sold_out = ProductFactory(stock=0)
    OrderItemFactory(order__user=user, product=bought)
    UserRecommendationFactory(user=user, product=sold_out, rank=0, score=9.0)
    UserRecommendationFactory(user=user, product=bought, rank=1, score=8.0)
    UserRecommendationFactory(user=user, product=picked, rank=2, score=7.0, reason="Because you bought X")
    items = user_client.get("/api/recommendations/me/?k=10").json()["items"]
    ids = [i["product_id"] for i in items]
    assert ids[0] == picked.pk
    assert items[0]["reason"] == "Because you bought X"
    assert sold_out.pk not in ids and bought.pk not in ids


@pytest.mark.parametrize("k", ["0", "101", "abc", "-3"])
def test_me_rejects_k_outside_range(api_client, k):
    response = api_client.get(f"/api/recommendations/me/?k={k}")
    assert response.status_code == 400
    assert "k" in response.json()


def test_user_recommendations_permission_holder_sees_anyone(api_client, staff_in_role, user):
    ProductFactory()
    api_client.force_login(staff_in_role("support_agent"))
    response = api_client.get(f"/api/recommendations/users/{user.pk}/?k=3")
    assert response.status_code == 200
    assert response.json()["user_id"] == user.pk


@pytest.mark.parametrize("role", [None, "analyst", "marketing"])
def test_user_recommendations_staff_without_the_permission_forbidden(api_client, staff_in_role, user, role):
    api_client.force_login(staff_in_role(role))
    response = api_client.get(f"/api/recommendations/users/{user.pk}/")
    assert response.status_code == 403
    assert "own" in response.json()["detail"]


def test_user_recommendations_non_staff_other_user_forbidden(user_client, other_user):
    response = user_client.get(f"/api/recommendations/users/{other_user.pk}/")
    assert response.status_code == 403
    assert "own" in response.json()["detail"]


def test_user_recommendations_self_allowed(user_client, user):
    ProductFactory()
    assert user_client.get(f"/api/recommendations/users/{user.pk}/").status_code == 200


def test_user_recommendations_anonymous_needs_login(api_client, user):
    assert api_client.get(f"/api/recommendations/users/{user.pk}/").status_code in {401, 403}


def test_user_recommendations_unknown_user_404(staff_client):
    response = staff_client.get("/api/recommendations/users/999999/")
    assert response.status_code == 404
    assert response.json()["detail"] == "User 999999 does not exist."


def test_similar_and_bought_together(api_client):
    product, near, together = ProductFactory.create_batch(3)
    SimilarProductFactory(product=product, similar=near, kind=SimilarProduct.Kind.SIMILAR)
    SimilarProductFactory(product=product, similar=together, kind=SimilarProduct.Kind.BOUGHT_TOGETHER)
    similar = api_client.get(f"/api/products/{product.pk}/similar/?k=1").json()
    assert [i["product_id"] for i in similar["items"]] == [near.pk]
    assert similar["items"][0]["reason"] == f"Similar to {product.title}"
    bought = api_client.get(f"/api/products/{product.pk}/bought-together/?k=1").json()
    assert [i["product_id"] for i in bought["items"]] == [together.pk]


def test_similar_unknown_or_inactive_product_404(api_client):
    inactive = ProductFactory(is_active=False)
    for pid in (999999, inactive.pk):
        response = api_client.get(f"/api/products/{pid}/similar/")
        assert response.status_code == 404
        assert response.json()["detail"] == f"Product {pid} does not exist."


def test_similar_rejects_bad_k(api_client):
    product = ProductFactory()
    assert api_client.get(f"/api/products/{product.pk}/bought-together/?k=500").status_code == 400


def test_click_redirect_records_and_goes_to_own_product(client):
    product = ProductFactory()
    client.cookies["tracking_consent"] = "yes"
    response = client.get(f"/recommendations/click/{product.pk}/?slot=home&v=4&pos=2&next=https://evil.example")
    assert response.status_code == 302
    assert response["Location"] == product.get_absolute_url()
    event = Event.objects.get(type=Event.Type.RECOMMENDATION_CLICK)
    assert event.product_id == product.pk
    assert event.properties == {"slot": "home", "model_version": 4, "position": 2}


def test_click_redirect_without_consent_records_nothing(client):
    product = ProductFactory()
    client.cookies["tracking_consent"] = "no"
    response = client.get(f"/recommendations/click/{product.pk}/?slot=home&v=4&pos=2")
    assert response.status_code == 302 and response["Location"] == product.get_absolute_url()
    assert not Event.objects.exists()


def test_click_unknown_product_404(client):
    assert client.get("/recommendations/click/999999/").status_code == 404


def test_me_answers_follow_a_retrain_or_rule_change(api_client):
    from recommendations.selectors import recommendations_generation_bump

    first = ProductFactory()
    assert [i["product_id"] for i in api_client.get("/api/recommendations/me/?k=5").json()["items"]] == [first.pk]
    second = ProductFactory()
    recommendations_generation_bump()  # what a retrain or an admin rule change does
    ids = [i["product_id"] for i in api_client.get("/api/recommendations/me/?k=5").json()["items"]]
    assert set(ids) == {first.pk, second.pk}

"""Storefront pages: catalogue, search, cart, checkout, orders, login and registration."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from ecommerce.models import Cart, CartItem, Event, Order, User
from tests.factories import (
    CategoryFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _add(client, product, quantity=1, action="add"):
    return client.post(
        reverse("storefront:cart_update"),
        {"product_id": product.pk, "quantity": quantity, "action": action},
    )


def _checkout(client, **overrides):
    data = {
        "shipping_name": "Ada Shopper",
        "email": "ada@example.com",
        "shipping_address": "1 High Street\nLondon",
        "country": "United Kingdom",
        "anonymous_id": "anon-1",
    }
    data.update(overrides)
    return client.post(reverse("storefront:checkout"), data)


def test_home_lists_categories_and_products_with_the_attribution(client):
    # given
    category = CategoryFactory(name="Kitchen", slug="kitchen")
    ProductFactory(title="Regency cakestand", category=category)
    # when
    response = client.get(reverse("storefront:home"))
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "Regency cakestand" in html
    assert "Kitchen" in html
    assert "UCI Online Retail data set, Daqing Chen et al., CC BY 4.0" in html
    assert "csrftoken" in response.cookies  # the tracker and forms can read it


def test_home_shows_consent_banner_until_a_choice_is_made(client):
    assert 'id="consent-banner"' in client.get("/").content.decode()
    client.cookies["tracking_consent"] = "no"
    assert 'id="consent-banner"' not in client.get("/").content.decode()


def test_home_hides_consent_banner_when_browser_says_do_not_track(client):
    assert 'id="consent-banner"' not in client.get("/", HTTP_DNT="1").content.decode()


def test_consent_post_sets_cookie_and_remembers_choice_on_account(client, user):
    # given
    client.force_login(user)
    # when
    response = client.post(reverse("storefront:consent"), {"choice": "yes", "next": "/c/x/"})
    # then
    assert response.status_code == 302
    assert response["Location"] == "/c/x/"
    assert response.cookies["tracking_consent"].value == "yes"
    user.refresh_from_db()
    assert user.tracking_consent is True


def test_consent_post_refuses_offsite_next(client):
    response = client.post(reverse("storefront:consent"), {"choice": "no", "next": "https://evil.example/"})
    assert response["Location"] == reverse("storefront:home")
    assert response.cookies["tracking_consent"].value == "no"


def test_category_page_paginates_and_includes_subcategory_products(client):
    # given
    parent = CategoryFactory(name="Home", slug="home-decor")
    child = CategoryFactory(name="Candles", slug="candles", parent=parent)
    for i in range(30):
        ProductFactory(title=f"Candle {i:02d}", category=child)
    # when
    first = client.get(reverse("storefront:category", args=["home-decor"]))
    second = client.get(reverse("storefront:category", args=["home-decor"]), {"page": 2})
    # then
    assert first.status_code == 200
    assert first.context["category"] == parent
    assert first.context["page"].paginator.count == 30
    assert len(first.context["page"].object_list) == 24
    assert len(second.context["page"].object_list) == 6
    assert "Candle 00" in first.content.decode()
    assert "Candle 29" in second.content.decode()


def test_category_page_sorts_by_price(client):
    category = CategoryFactory(slug="sorted")
    ProductFactory(title="Cheap", price=Decimal("1.00"), category=category)
    ProductFactory(title="Dear", price=Decimal("50.00"), category=category)
    response = client.get(reverse("storefront:category", args=["sorted"]), {"sort": "-price"})
    assert [p.title for p in response.context["page"].object_list] == ["Dear", "Cheap"]


def test_unknown_category_is_404(client):
    assert client.get(reverse("storefront:category", args=["nope"])).status_code == 404


def test_search_finds_by_title_words_and_passes_query_to_partials(client):
    # given
    ProductFactory(title="Jumbo bag red retrospot")
    ProductFactory(title="Lunch bag pink polkadot")
    ProductFactory(title="Party bunting")
    # when
    response = client.get(reverse("storefront:search"), {"q": "bag red"})
    # then
    assert response.status_code == 200
    assert response.context["query"] == "bag red"
    assert [p.title for p in response.context["page"].object_list] == ["Jumbo bag red retrospot"]
    assert 'data-query="bag red"' in response.content.decode()


def test_search_without_query_shows_help_not_everything(client):
    ProductFactory()
    response = client.get(reverse("storefront:search"))
    assert response.status_code == 200
    assert response.context["page"] is None


def test_product_page_shows_price_stock_breadcrumb_and_add_form(client):
    # given
    parent = CategoryFactory(name="Kitchen", slug="kitchen")
    child = CategoryFactory(name="Cake tins", slug="cake-tins", parent=parent)
    product = ProductFactory(title="set of 3 cake tins", price=Decimal("1234.5"), stock=7, category=child)
    # when
    response = client.get(product.get_absolute_url())
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["product"] == product
    assert response.context["category"] == child
    assert "£1,234.50" in html
    assert "only 7 left" in html
    assert [c.slug for c in response.context["breadcrumb"]] == ["kitchen", "cake-tins"]
    assert f'data-product-id="{product.pk}"' in html
    assert 'name="action" value="add"' in html


def test_fee_lines_and_inactive_products_are_not_shown_to_shoppers(client):
    # given: staff-only rows of the catalogue
    postage = ProductFactory(sku="POST", title="POSTAGE", is_non_product=True)
    retired = ProductFactory(title="Retired teapot", is_active=False)
    # then
    assert client.get(postage.get_absolute_url()).status_code == 404
    assert client.get(retired.get_absolute_url()).status_code == 404
    assert "POSTAGE" not in client.get(reverse("storefront:search"), {"q": "postage"}).content.decode()
    assert "Retired teapot" not in client.get("/").content.decode()


def test_admin_link_only_for_staff(client, user, staff):
    client.force_login(user)
    assert "/admin/" not in client.get("/").content.decode()
    client.force_login(staff)
    assert "/admin/" in client.get("/").content.decode()


def test_cart_add_update_and_remove_for_anonymous_shopper(client):
    # given
    product = ProductFactory(title="Rabbit night light", stock=10)
    # when / then: add twice accumulates
    assert _add(client, product, 2).status_code == 302
    _add(client, product, 1)
    cart = Cart.objects.get(session_key=client.session.session_key)
    assert cart.items.get().quantity == 3
    page = client.get(reverse("storefront:cart"))
    assert page.context["cart"] == cart
    assert page.context["cart_count"] == 3
    assert "Rabbit night light" in page.content.decode()
    # set quantity
    _add(client, product, 5, action="set")
    assert cart.items.get().quantity == 5
    # remove
    _add(client, product, action="remove")
    assert not cart.items.exists()


def test_cart_refuses_more_than_stock_with_a_message(client):
    product = ProductFactory(stock=2)
    response = client.post(
        reverse("storefront:cart_update"),
        {"product_id": product.pk, "quantity": 5, "action": "add"},
        follow=True,
    )
    assert "Only 2 of" in response.content.decode()
    assert not CartItem.objects.exists()


def test_cart_update_rejects_bad_input_without_500(client):
    response = client.post(reverse("storefront:cart_update"), {"product_id": "x", "action": "add"}, follow=True)
    assert response.status_code == 200
    assert "not understood" in response.content.decode()
    response = client.post(
        reverse("storefront:cart_update"),
        {"product_id": 999999, "quantity": 1, "action": "add"},
        follow=True,
    )
    assert "not for sale" in response.content.decode()


def test_cart_update_is_post_only(client):
    assert client.get(reverse("storefront:cart_update")).status_code == 405


def test_empty_cart_page_creates_nothing(client):
    response = client.get(reverse("storefront:cart"))
    assert response.status_code == 200
    assert "Your cart is empty" in response.content.decode()
    assert not Cart.objects.exists()


def test_checkout_with_empty_cart_redirects_to_cart(client):
    assert client.get(reverse("storefront:checkout"))["Location"] == reverse("storefront:cart")


def test_checkout_creates_paid_order_purchase_event_and_decrements_stock(client, user):
    # given
    client.force_login(user)
    client.cookies["tracking_consent"] = "yes"  # the purchase event is behaviour data
    product = ProductFactory(price=Decimal("2.55"), stock=10)
    _add(client, product, 3)
    assert client.get(reverse("storefront:checkout")).context["form"].initial["email"] == user.email
    # when
    response = _checkout(client)
    # then
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("storefront:order_confirmation", args=[order.number])
    assert order.status == Order.Status.PAID
    assert order.user == user
    assert order.total() == Decimal("7.65")
    product.refresh_from_db()
    assert product.stock == 7
    purchase = Event.objects.get(type=Event.Type.PURCHASE)
    assert purchase.product_id == product.pk
    assert purchase.user == user
    assert purchase.anonymous_id == "anon-1"
    assert not CartItem.objects.exists()
    confirmation = client.get(response["Location"])
    assert confirmation.status_code == 200
    assert order.number in confirmation.content.decode()


def test_guest_checkout_confirmation_only_in_the_placing_session(client):
    # given
    product = ProductFactory(stock=5)
    _add(client, product)
    # when
    response = _checkout(client, email="guest@example.com")
    # then
    order = Order.objects.get()
    assert order.user is None
    assert order.email == "guest@example.com"
    assert client.get(response["Location"]).status_code == 200
    assert Client().get(response["Location"]).status_code == 404


def test_checkout_invalid_form_shows_errors_and_places_nothing(client):
    product = ProductFactory(stock=5)
    _add(client, product)
    response = _checkout(client, email="not-an-email", shipping_address="")
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"email", "shipping_address"}
    assert not Order.objects.exists()


def test_checkout_when_stock_ran_out_meanwhile_shows_error(client):
    product = ProductFactory(stock=5)
    _add(client, product, 3)
    type(product).objects.filter(pk=product.pk).update(stock=1)
    response = _checkout(client)
    assert response.status_code == 200
    assert "left in stock" in response.content.decode()
    assert not Order.objects.exists()


def test_order_history_lists_only_own_orders(client, user, other_user):
    # given
    mine = OrderFactory(user=user)
    OrderItemFactory(order=mine)
    theirs = OrderFactory(user=other_user)
    client.force_login(user)
    # when
    html = client.get(reverse("storefront:order_list")).content.decode()
    account = client.get(reverse("storefront:account")).content.decode()
    # then
    assert mine.number in html
    assert theirs.number not in html
    assert mine.number in account
    assert theirs.number not in account


def test_order_detail_of_another_shopper_is_404(client, user, other_user, staff):
    theirs = OrderFactory(user=other_user)
    OrderItemFactory(order=theirs)
    client.force_login(user)
    assert client.get(theirs.get_absolute_url()).status_code == 404
    # staff look at customers' orders in the audited admin, not through the shop pages
    client.force_login(staff)
    assert client.get(theirs.get_absolute_url()).status_code == 404
    client.force_login(other_user)
    assert client.get(theirs.get_absolute_url()).status_code == 200


def test_account_pages_need_login(client):
    for name in ("account", "order_list", "privacy_export"):
        response = client.get(reverse(f"storefront:{name}"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("storefront:login"))


def test_register_creates_user_with_profile_and_logs_in(client):
    # given
    response = client.post(
        reverse("storefront:register"),
        {
            "username": "newshopper",
            "email": "new@example.com",
            "birth_year": 1985,
            "gender": "m",
            "country": "France",
            "password1": "a-long-Secret-42",
            "password2": "a-long-Secret-42",
        },
    )
    # then
    assert response.status_code == 302
    assert response["Location"] == reverse("storefront:account")
    user = User.objects.get(username="newshopper")
    assert (user.email, user.birth_year, user.gender, user.country) == (
        "new@example.com",
        1985,
        "m",
        "France",
    )
    assert client.get(reverse("storefront:account")).status_code == 200


def test_register_rejects_future_birth_year_and_taken_email(client, user):
    response = client.post(
        reverse("storefront:register"),
        {
            "username": "x1",
            "email": user.email.upper(),
            "birth_year": 2999,
            "password1": "a-long-Secret-42",
            "password2": "a-long-Secret-42",
        },
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"email", "birth_year"}


def test_register_merges_the_anonymous_cart(client):
    product = ProductFactory(stock=10)
    _add(client, product, 2)
    client.post(
        reverse("storefront:register"),
        {
            "username": "cartshopper",
            "email": "c@example.com",
            "password1": "a-long-Secret-42",
            "password2": "a-long-Secret-42",
        },
    )
    cart = Cart.objects.get(user__username="cartshopper")
    assert cart.items.get().quantity == 2


def test_login_merges_anonymous_cart_into_user_cart(client):
    # given: the user has 1 in their cart; the anonymous session adds 2 of the same and 1 other
    user = UserFactory(username="merger")
    product, other = ProductFactory(stock=10), ProductFactory(stock=10)
    Cart.objects.create(user=user).items.create(product=product, quantity=1)
    _add(client, product, 2)
    _add(client, other, 1)
    # when
    response = client.post(reverse("storefront:login"), {"username": "merger", "password": "correct-horse-battery"})
    # then
    assert response.status_code == 302
    cart = Cart.objects.get(user=user)
    assert {i.product_id: i.quantity for i in cart.items.all()} == {product.pk: 3, other.pk: 1}
    assert Cart.objects.count() == 1
    assert client.get(reverse("storefront:cart")).context["cart_count"] == 4


def test_login_with_wrong_password_shows_error(client, user):
    response = client.post(reverse("storefront:login"), {"username": user.username, "password": "nope"})
    assert response.status_code == 200
    assert response.context["form"].errors


def test_logout_is_post_and_ends_session(client, user):
    client.force_login(user)
    assert client.post(reverse("storefront:logout")).status_code == 302
    assert client.get(reverse("storefront:account")).status_code == 302


def test_shouting_imported_titles_are_shown_in_sentence_case(client):
    product = ProductFactory(title="WHITE HANGING HEART T-LIGHT HOLDER")
    ProductFactory(title="Toy Story (1995)")
    home = client.get("/").content.decode()
    assert "White hanging heart t-light holder" in home
    assert "Toy Story (1995)" in home
    assert "<h1>White hanging heart t-light holder</h1>" in client.get(product.get_absolute_url()).content.decode()


def test_placeholder_tile_shows_category_initials_and_skips_repeated_description(client):
    # given: an imported product without image whose description only repeats the title
    category = CategoryFactory(name="Candles & Lights", slug="candles-lights")
    product = ProductFactory(title="Rabbit Night Light", description="RABBIT NIGHT LIGHT", category=category)
    # when
    html = client.get(product.get_absolute_url()).content.decode()
    # then
    assert f'class="tile placeholder" style="--hue: {category.pk}; --turn: {product.pk}"' in html
    assert "<span>CL</span>" in html
    assert 'class="description"' not in html


def test_home_lists_newest_products_first(client):
    older = ProductFactory(title="A older")
    newer = ProductFactory(title="Z newer")
    products = list(client.get("/").context["products"])
    assert products.index(newer) < products.index(older)


def _queries_for(url, params=None) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert Client().get(url, params or {}).status_code == 200
    return len(captured)


def test_listing_pages_query_count_does_not_grow_with_products():
    # given: a few products, each in its own category (the tiles read the category)
    parent = CategoryFactory(slug="many")
    for i in range(3):
        ProductFactory(title=f"Thing {i}", category=CategoryFactory(parent=parent))
    pages = [
        (reverse("storefront:category", args=["many"]), None),
        (reverse("storefront:search"), {"q": "thing"}),
        ("/", None),
    ]
    few = [_queries_for(url, params) for url, params in pages]
    # when: a full page more
    for i in range(21):
        ProductFactory(title=f"Thing {i + 3}", category=CategoryFactory(parent=parent))
    # then: no query per product or per category
    many = [_queries_for(url, params) for url, params in pages]
    # (the other apps' widgets may take a path with fewer queries once there is more to show)
    assert all(m <= f for m, f in zip(many, few, strict=True)), (many, few)


def test_category_pagination_keeps_the_sort_and_ignores_unknown_sorts(client):
    category = CategoryFactory(slug="paged")
    for i in range(30):
        ProductFactory(title=f"Item {i:02d}", price=Decimal(i + 1), category=category)
    url = reverse("storefront:category", args=["paged"])
    sorted_page = client.get(url, {"sort": "-price"})
    assert 'href="?sort=-price&amp;page=2"' in sorted_page.content.decode()
    assert client.get(url, {"sort": "drop table"}).context["sort"] == "title"

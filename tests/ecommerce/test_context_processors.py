import pytest
from django.test import Client

from tests.factories import CategoryFactory

pytestmark = pytest.mark.django_db


def test_pages_of_other_apps_get_the_storefront_header(user):
    # given a top category and a shopper with one item in the cart
    CategoryFactory(name="Candles & Lights", slug="candles-lights")
    client = Client()
    client.force_login(user)
    # when the support chat page (not a storefront view) renders base.html
    html = client.get("/support/chat/").content.decode()
    # then its header has the category nav like storefront pages do
    assert "Candles &amp; Lights" in html

"""Issue 10, item 8: the whole OpenAPI schema through Schemathesis, as anonymous, shopper and admin.

Every operation gets FUZZ_EXAMPLES generated requests (valid and invalid) sent to the WSGI app in
this process, against the test database. A 5xx or an answer that breaks the published schema
fails the test. ../shared/tools/probe_fuzz.sh is the same check against a running server.
"""

import json
import os
from decimal import Decimal

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.utils.crypto import get_random_string
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from ecommerce.models import Order, OrderItem
from tests.factories import CategoryFactory, ProductFactory, UserFactory

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

# 42 operations x 3 roles x 8 examples: about a minute here; raise it locally to dig deeper.
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))


def _load_schema():
    """The schema /api/schema/ serves, built in-process (no request, no database), sent to the
    WSGI app. Loaded eagerly: schemathesis' lazy from_fixture() does not run under pytest 9."""
    raw = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(raw)))
    loaded.app = get_wsgi_application()
    return loaded


schema = _load_schema()


def _session_headers(user) -> dict[str, str]:
    client = Client()
    client.force_login(user)
    # The CSRF cookie holds a 32-character secret; sending the same value as the header passes.
    token = get_random_string(32)
    session = client.cookies["sessionid"].value
    return {"Cookie": f"sessionid={session}; csrftoken={token}; tracking_consent=yes", "X-CSRFToken": token}


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """Requests go to the WSGI app, whose request signals close old database connections, and
    with them the test's transaction (PostgreSQL). Django's test Client unhooks them the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def shopper():
    category = CategoryFactory()
    product = ProductFactory(category=category, stock=10, price=Decimal("5.00"))
    user = UserFactory()
    order = Order.objects.create(user=user, number=f"F{user.pk:06d}")
    OrderItem.objects.create(order=order, product=product, title=product.title, quantity=1, unit_price=Decimal("5.00"))
    return user


@pytest.fixture(params=["anonymous", "shopper", "admin"])
def role_headers(request, shopper) -> dict[str, str]:
    if request.param == "anonymous":
        return {"Cookie": "tracking_consent=yes"}
    if request.param == "shopper":
        return _session_headers(shopper)
    admin = get_user_model().objects.create_superuser("fuzz-admin", "fuzz-admin@example.com", "x-x-x-x-x")
    return _session_headers(admin)


@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_answers_without_5xx_and_matches_its_schema(case, role_headers):
    case.call_and_validate(headers=role_headers, checks=[not_a_server_error, response_schema_conformance])

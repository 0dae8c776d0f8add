"""seed_demo on a tiny slice: what it loads, that a rerun adds nothing, that app steps run."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from ecommerce import plugins
from ecommerce.models import Event, Order, OrderItem, Product, User

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "products": Product.objects.count(),
        "orders": Order.objects.count(),
        "items": OrderItem.objects.count(),
        "events": Event.objects.count(),
        "interests": User.interests.through.objects.count(),
    }


def _seed(*extra: str) -> str:
    out = StringIO()
    call_command("seed_demo", "--max-customers", "12", "--max-events", "3000", *extra, stdout=out)
    return out.getvalue()


def test_seed_demo_loads_slice_profiles_sessions_and_demo_accounts():
    # when
    output = _seed("--core-only")
    # then
    customers = User.objects.filter(external_id__isnull=False)
    assert customers.count() == 12
    assert all(c.birth_year and 1940 <= c.birth_year <= 2010 for c in customers)
    assert customers.exclude(gender="").exists()
    assert User.interests.through.objects.filter(user__in=customers).exists()
    assert Order.objects.filter(source="uci", user__isnull=True).exists()  # guest invoices too
    types = set(Event.objects.values_list("type", flat=True))
    assert {"page_view", "product_view", "search", "add_to_cart", "checkout_start", "purchase"} <= types
    assert Event.objects.filter(type="search").exclude(query="").exists()
    assert Event.objects.filter(type="page_view", user__isnull=True).exists()  # anonymous visits
    assert "admin / " in output and "shopper / " in output
    # the generated sessions lead to the real purchases
    checkout = Event.objects.filter(type="checkout_start", properties__order__isnull=False).first()
    order = Order.objects.get(number=checkout.properties["order"])
    assert checkout.occurred_at < order.placed_at
    assert checkout.user_id == order.user_id
    assert Event.objects.filter(type="purchase", properties__order=order.number).exists()
    # a staff admin and a shopper whose orders the support bot can cancel and track
    admin = User.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    password = output.split("admin / ")[1].split()[0]
    assert admin.check_password(password)
    shopper = User.objects.get(username="shopper")
    assert shopper.check_password(output.split("shopper / ")[1].split()[0])
    statuses = set(shopper.orders.values_list("status", flat=True))
    assert {Order.Status.PAID, Order.Status.SHIPPED, Order.Status.DELIVERED} <= statuses
    shipped = shopper.orders.get(status=Order.Status.SHIPPED)
    assert shipped.tracking_number and shipped.items.exists()


def test_seed_demo_twice_adds_nothing_and_resets_passwords():
    first_output = _seed("--core-only")
    before = _counts()
    # when
    second_output = _seed("--core-only")
    # then
    assert _counts() == before
    assert "0 created" in second_output
    old = first_output.split("admin / ")[1].split()[0]
    new = second_output.split("admin / ")[1].split()[0]
    assert old != new and User.objects.get(username="admin").check_password(new)


def test_seed_demo_same_seed_generates_the_same_sessions():
    _seed("--core-only")
    first = set(Event.objects.exclude(type="purchase").values_list("id", "occurred_at", "product_id"))
    Event.objects.exclude(type="purchase").delete()
    _seed("--core-only")
    assert set(Event.objects.exclude(type="purchase").values_list("id", "occurred_at", "product_id")) == first


def test_seed_demo_runs_every_registered_demo_step_after_the_core_data():
    seen: list[tuple[int, int]] = []

    def record_step(*, seed: int, stdout) -> None:
        seen.append((seed, Order.objects.filter(source="uci").count()))
        stdout.write("test step ran")

    plugins.register_demo_step("tests", record_step, order=99)
    try:
        output = _seed("--seed", "7")
    finally:
        plugins._demo_steps[:] = [s for s in plugins._demo_steps if s.func is not record_step]
    assert seen and seen[0][0] == 7 and seen[0][1] > 0
    assert "test step ran" in output


@pytest.mark.django_db
def test_seed_demo_brings_the_slice_history_forward_to_yesterday_keeping_weekdays():
    import csv
    from datetime import datetime, timedelta

    from django.utils import timezone

    from ecommerce.demo.generator import SLICE_PATH
    from ecommerce.importers.common import open_text

    # when
    call_command("seed_demo", "--max-customers", "5", "--core-only", "--max-events", "200", stdout=StringIO())
    # then the newest imported invoice lies in the last week, on the weekday and hour it had in 2011
    latest = Order.objects.filter(source="uci").order_by("-placed_at").first()
    assert timezone.now() - timedelta(days=8) < latest.placed_at < timezone.now()
    with open_text(SLICE_PATH) as handle:
        original = next(
            datetime.fromisoformat(row["InvoiceDate"])
            for row in csv.DictReader(handle)
            if row["InvoiceNo"] == latest.number
        )
    assert latest.placed_at.weekday() == original.weekday()
    assert (latest.placed_at.hour, latest.placed_at.minute) == (original.hour, original.minute)
    # and purchase events moved with their orders
    bought = Order.objects.filter(source="uci", user__isnull=False, status="delivered").order_by("-placed_at").first()
    assert Event.objects.filter(type="purchase", user=bought.user, occurred_at=bought.placed_at).exists()
    # when seeded again, nothing moves a second time
    call_command("seed_demo", "--max-customers", "5", "--core-only", "--max-events", "200", stdout=StringIO())
    assert Order.objects.get(pk=latest.pk).placed_at == latest.placed_at

import pytest

from ecommerce.models import Event, Order
from ecommerce.tasks import erase_user_task
from tests.factories import EventFactory, OrderFactory, UserFactory


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_erase_user_task_runs_on_real_worker_and_is_idempotent(celery_worker_real):
    # given a shopper with an order and events
    shopper = UserFactory(username="erase-me", email="erase-me@example.com")
    order = OrderFactory(user=shopper, shipping_address="7 Secret Lane")
    EventFactory(user=shopper)
    # when the task goes through the broker to the worker, twice
    first = erase_user_task.delay(shopper.pk).get(timeout=30)
    second = erase_user_task.delay(shopper.pk).get(timeout=30)
    # then personal data is gone, the order and event remain detached
    shopper.refresh_from_db()
    assert first["erased"] is True and second == {"erased": False}
    assert shopper.is_active is False and shopper.email == "" and shopper.username == f"erased-{shopper.pk}"
    order = Order.objects.get(pk=order.pk)
    assert order.user_id is None and order.shipping_address == "" and order.email == ""
    assert Event.objects.filter(user__isnull=True).count() == 1

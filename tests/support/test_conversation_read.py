"""The conversation read (services.conversation_get_for_owner): only the owner finds it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ecommerce.errors import NotFound
from support import actions, services
from support.models import Conversation
from tests.factories import OrderFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_shoppers_conversation_is_found_only_by_that_shopper():
    owner, other = UserFactory(), UserFactory()
    conversation = Conversation.objects.create(user=owner, state={"out_of_scope": 1})
    found = services.conversation_get_for_owner(conversation_id=conversation.pk, user=owner, session_key="")
    assert found.pk == conversation.pk and found.user is owner and found.state == {"out_of_scope": 1}
    for user, session_key in ((other, ""), (None, "s" * 32), (other, conversation.session_key)):
        with pytest.raises(NotFound):
            services.conversation_get_for_owner(conversation_id=conversation.pk, user=user, session_key=session_key)


def test_a_guest_conversation_is_found_only_with_its_session():
    conversation = Conversation.objects.create(session_key="a" * 32)
    found = services.conversation_get_for_owner(conversation_id=conversation.pk, user=None, session_key="a" * 32)
    assert found.pk == conversation.pk and found.user_id is None
    for user, session_key in ((None, "b" * 32), (None, ""), (UserFactory(), "a" * 32)):
        with pytest.raises(NotFound):
            services.conversation_get_for_owner(conversation_id=conversation.pk, user=user, session_key=session_key)
    with pytest.raises(NotFound):
        services.conversation_get_for_owner(conversation_id=conversation.pk + 1, user=None, session_key="a" * 32)


def test_the_texts_stamp_and_the_row_lock_come_with_the_one_read():
    owner = UserFactory()
    conversation = Conversation.objects.create(user=owner)
    with CaptureQueriesContext(connection) as queries:
        found = services.conversation_get_for_owner(
            conversation_id=conversation.pk, user=owner, session_key="", with_texts_stamp=True
        )
    assert len(queries.captured_queries) == 1 and found.texts_stamp.count(":") == 3
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        services.conversation_get_for_owner(
            conversation_id=conversation.pk, user=owner, session_key="", for_update=True
        )
    (sql,) = [q["sql"] for q in queries.captured_queries if "support_conversation" in q["sql"]]
    assert sql.endswith("FOR UPDATE") == connection.features.has_select_for_update


def test_the_order_choice_reads_only_the_newest_orders_it_offers():
    shopper, now = UserFactory(), timezone.now()
    for day in range(7):
        OrderFactory(user=shopper, number=f"70000{day}", placed_at=now - timedelta(days=day))
    OrderFactory(number="800000")  # someone else's
    with CaptureQueriesContext(connection) as queries:
        choices = actions.orders_to_choose_from(actions.Shopper(user=shopper), limit=5)
    assert choices == ["700000", "700001", "700002", "700003", "700004"]
    (sql,) = [q["sql"] for q in queries.captured_queries]
    assert "LIMIT 5" in sql


@pytest.mark.parametrize("conversation_id", [2**63, 10**30, -1])
def test_an_id_no_row_can_have_is_not_found(conversation_id):
    owner = UserFactory()
    with pytest.raises(NotFound):
        services.conversation_get_for_owner(conversation_id=conversation_id, user=owner, session_key="")

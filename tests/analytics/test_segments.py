import pytest

from analytics.selectors import segment_list, segment_member_ids, segments_for_user
from analytics.services import segment_memberships_erase, segment_save
from ecommerce.errors import DomainError
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_segment_save_replaces_members_and_selectors_read_them():
    a, b, c = UserFactory(), UserFactory(), UserFactory()
    segment_save(key="vip", name="VIP", user_ids=[a.pk, b.pk])
    segment_save(key="vip", name="VIP shoppers", user_ids=[b.pk, c.pk, 999999])

    assert segment_member_ids(key="vip") == {b.pk, c.pk}
    assert segments_for_user(user_id=a.pk) == []
    assert segments_for_user(user_id=b.pk) == ["vip"]
    listed = list(segment_list())
    assert [(s.key, s.name, s.size) for s in listed] == [("vip", "VIP shoppers", 2)]


def test_segment_member_ids_unknown_key_is_empty():
    assert segment_member_ids(key="nope") == set()


def test_segment_save_rejects_unknown_kind():
    with pytest.raises(DomainError):
        segment_save(key="x", name="X", user_ids=[], kind="magic")


def test_segment_erasure_removes_memberships():
    a = UserFactory()
    segment_save(key="vip", name="VIP", user_ids=[a.pk])
    segment_save(key="cluster-1", name="C1", user_ids=[a.pk], kind="cluster")

    assert segment_memberships_erase(a) == {
        "segment_memberships": 2,
        "daily_actors": 0,
        "funnel_entries": 0,
        "daily_searches": 0,
    }
    assert segments_for_user(user_id=a.pk) == []

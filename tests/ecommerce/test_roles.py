"""Roles: the groups, the create_staff / create_advertiser commands, the advertiser migration, the demo."""

from __future__ import annotations

import importlib
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import Client

from advertising.models import Advertiser, Campaign
from ecommerce.models import User
from ecommerce.roles import ROLES, role_groups_sync, user_can
from tests.factories import ProductFactory, RoleStaffFactory, StaffFactory, UserFactory
from tests.factories.advertising import AdvertiserFactory, CampaignFactory

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "plum-harbour-47-lantern"


def _perms(group: Group) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_migration_created_the_five_groups_with_their_permissions():
    groups = {g.name: g for g in Group.objects.filter(name__in=[r.group for r in ROLES.values()])}
    assert set(groups) == {"Support agents", "Analysts", "Catalog managers", "Order managers", "Marketing"}
    for role in ROLES.values():
        assert _perms(groups[role.group]) == set(role.permissions)
    assert "support.handle_conversations" in _perms(groups["Support agents"])
    assert "analytics.view_analytics" in _perms(groups["Analysts"])
    assert {"ecommerce.view_customer_orders", "ecommerce.manage_orders"} <= _perms(groups["Order managers"])
    # a rerun changes nothing
    assert role_groups_sync() == {r.group: len(r.permissions) for r in ROLES.values()}


def test_is_staff_alone_grants_no_capability():
    staff = RoleStaffFactory(role=None)
    capabilities = {perm for role in ROLES.values() for perm in role.permissions}
    assert not [perm for perm in capabilities if user_can(staff, perm)]
    assert all(user_can(StaffFactory(), perm) for perm in capabilities)  # superusers keep everything
    inactive = RoleStaffFactory(role="analyst", is_active=False)
    assert not user_can(inactive, "analytics.view_analytics")


def test_staff_without_role_opens_the_admin_index_and_sees_no_app():
    client = Client()
    client.force_login(RoleStaffFactory(role=None))
    response = client.get("/admin/")
    assert response.status_code == 200
    assert response.context["app_list"] == []


def test_create_staff_makes_a_staff_user_in_one_role():
    out = StringIO()
    call_command(
        "create_staff", "--username", "olga", "--password", GOOD_PASSWORD, "--role", "order_manager", stdout=out
    )
    olga = User.objects.get(username="olga")
    assert olga.is_staff and not olga.is_superuser and olga.check_password(GOOD_PASSWORD)
    assert list(olga.groups.values_list("name", flat=True)) == ["Order managers"]
    assert user_can(olga, "ecommerce.manage_orders") and not user_can(olga, "analytics.view_analytics")
    assert "Order managers" in out.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "owner"], "invalid choice"),
        (["--role", "analyst", "--password", "short"], "too short"),
        (["--role", "analyst", "--username", "taken"], "exists already"),
    ],
)
def test_create_staff_refuses_bad_input(args, message):
    UserFactory(username="taken")
    base = {"--username": "newbie", "--password": GOOD_PASSWORD}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    with pytest.raises(CommandError, match=message):
        call_command("create_staff", *[x for pair in base.items() for x in pair], stdout=StringIO())
    assert not User.objects.filter(username="newbie").exists()


def test_create_advertiser_makes_a_non_staff_member_scoped_to_its_advertiser():
    call_command(
        "create_advertiser",
        "--name",
        "Acme Ads",
        "--username",
        "acme",
        "--email",
        "ads@acme.test",
        "--password",
        GOOD_PASSWORD,
        stdout=StringIO(),
    )
    call_command(
        "create_advertiser",
        "--name",
        "Acme Ads",
        "--username",
        "acme2",
        "--email",
        "ads2@acme.test",
        "--password",
        GOOD_PASSWORD,
        stdout=StringIO(),
    )
    acme = Advertiser.objects.get(name="Acme Ads")
    user = User.objects.get(username="acme")
    assert not user.is_staff and not user.is_superuser
    assert set(acme.users.values_list("username", flat=True)) == {"acme", "acme2"}
    mine, theirs = CampaignFactory(advertiser=acme), CampaignFactory()
    assert list(Campaign.objects.visible_to(user)) == [mine]
    assert theirs not in Campaign.objects.visible_to(user)
    with pytest.raises(CommandError, match="exists already"):
        call_command(
            "create_advertiser",
            "--name",
            "Other",
            "--username",
            "acme",
            "--email",
            "x@y.test",
            "--password",
            GOOD_PASSWORD,
            stdout=StringIO(),
        )


def test_migration_turns_staff_advertisers_into_non_staff():
    # given: an advertiser login made staff the old way, an employee and a superuser member
    old_style = UserFactory(is_staff=True)
    employee = RoleStaffFactory(role="marketing")
    boss = StaffFactory()
    advertiser = AdvertiserFactory()
    advertiser.users.add(old_style, boss)
    migration = importlib.import_module("advertising.migrations.0002_advertisers_not_staff")
    # when
    migration.advertisers_unstaff(apps, None)
    # then
    old_style.refresh_from_db(), employee.refresh_from_db(), boss.refresh_from_db()
    assert not old_style.is_staff
    assert employee.is_staff and boss.is_staff and boss.is_superuser


def test_demo_agent_is_a_support_agent_and_demo_advertiser_is_not_staff():
    from advertising.demo import seed_demo_advertising
    from support.demo import AGENT_USERNAME, support_demo_step
    from support.services import is_agent

    out = StringIO()
    support_demo_step(seed=1, stdout=out)
    agent = User.objects.get(username=AGENT_USERNAME)
    assert agent.is_staff and not agent.is_superuser and is_agent(agent)
    assert list(agent.groups.values_list("name", flat=True)) == ["Support agents"]
    assert agent.check_password(out.getvalue().split("password '")[1].split("'")[0])
    for _ in range(12):
        ProductFactory()
    seed_demo_advertising(seed=3, stdout=StringIO())
    demo_advertiser = User.objects.get(username="advertiser")
    assert not demo_advertiser.is_staff and demo_advertiser.advertiser_accounts.count() == 1


@pytest.mark.parametrize(
    ("role", "cancelled"), [(None, False), ("marketing", False), ("support_agent", False), ("order_manager", True)]
)
def test_the_support_bot_uses_the_same_order_permissions(role, cancelled):
    # given: an employee chatting with the bot about another customer's paid order
    from support.actions import Shopper, cancel_order
    from tests.factories import OrderFactory

    order = OrderFactory(status="paid")
    employee = RoleStaffFactory(role=role)
    # when
    result = cancel_order(Shopper(user=employee), order.number)
    # then: only the order managers' permission reaches it, exactly as in the API
    order.refresh_from_db()
    assert (order.status == "cancelled") is cancelled
    assert result.code == ("done" if cancelled else "not_found")

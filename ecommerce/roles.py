"""Staff roles: which Django permission each capability is, and which group holds which.

The one rule: a capability is a Django permission, checked (with `perm_require`) in the service or
selector that does the work, so the API, the admin, the storefront and the chatbot get the same
answer. `is_staff` only opens the admin door; a staff account without a role sees the admin index
and nothing else. Superusers hold every permission (Django's ModelBackend).

Advertisers are not staff: they are shoppers who belong to an `advertising.Advertiser` and reach
that advertiser's campaigns through membership, not through a permission.

The groups are created by the data migration ecommerce/0003_staff_roles.py and kept current by
`role_groups_sync()` (run by `create_staff` and `seed_demo`, so a role added here reaches an
existing database without a new migration).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from .errors import PermissionDenied

logger = logging.getLogger(__name__)

# --- capabilities (permission names "<app_label>.<codename>") ---------------------------------
VIEW_CUSTOMER_ORDERS = "ecommerce.view_customer_orders"  # read any customer's order (API, bot, admin)
MANAGE_ORDERS = "ecommerce.manage_orders"  # cancel, return or re-address any customer's order
MANAGE_RETURNS = "ecommerce.manage_returns"  # approve, receive, refund or reject return requests
VIEW_ANALYTICS = "analytics.view_analytics"  # dashboard page and /api/analytics/*
VIEW_SUPPORT_METRICS = "support.view_support_metrics"  # /support/metrics/
HANDLE_CONVERSATIONS = "support.handle_conversations"  # agent console and /api/support/agent/*
VIEW_CUSTOMER_RECOMMENDATIONS = "recommendations.view_customer_recommendations"  # another customer's list
RETRAIN_RECOMMENDERS = "recommendations.retrain_recommenders"  # retrain now, start an A/B test
VIEW_ALL_CAMPAIGNS = "advertising.view_campaign"  # every advertiser's campaigns and reports
CHANGE_ALL_CAMPAIGNS = "advertising.change_campaign"  # edit / move any advertiser's campaign
ADD_ANY_CAMPAIGN = "advertising.add_campaign"  # create a campaign for any advertiser
REVIEW_CAMPAIGNS = "advertising.review_campaign"  # approve or reject advertisers' campaigns
CHANGE_ADS_SETTINGS = "advertising.change_adssettings"  # reserve prices, allowed slots, landing URLs


def _model_perms(app_label: str, model: str, actions: tuple[str, ...] = ("view",)) -> list[str]:
    return [f"{app_label}.{action}_{model}" for action in actions]


VIEW, EDIT = ("view",), ("view", "add", "change")


@dataclass(frozen=True)
class Role:
    key: str  # the --role value of `create_staff`
    group: str  # the auth Group's name
    summary: str
    permissions: tuple[str, ...]


ROLES: dict[str, Role] = {
    r.key: r
    for r in [
        Role(
            "support_agent",
            "Support agents",
            "Answer chats in the agent console; read customers' orders, recommendations and event timelines "
            "to help them; "
            "edit FAQ, canned responses and policy texts; see the support metrics.",
            (
                HANDLE_CONVERSATIONS,
                VIEW_SUPPORT_METRICS,
                VIEW_CUSTOMER_ORDERS,
                VIEW_CUSTOMER_RECOMMENDATIONS,
                # the event log and a person's timeline: what the shopper they are helping did
                *_model_perms("ecommerce", "event"),
                *_model_perms("ecommerce", "order"),
                *_model_perms("ecommerce", "orderitem"),
                *_model_perms("support", "conversation"),
                *_model_perms("support", "message"),
                *_model_perms("support", "faqentry", EDIT),
                *_model_perms("support", "cannedresponse", EDIT),
                *_model_perms("support", "policytext", ("view", "change")),
            ),
        ),
        Role(
            "analyst",
            "Analysts",
            "Read the analytics dashboard and API, the support metrics and model versions; manage saved "
            "segments. No access to individual customers' orders or lists.",
            (
                VIEW_ANALYTICS,
                VIEW_SUPPORT_METRICS,
                *_model_perms("analytics", "dashboard"),
                *_model_perms("analytics", "segment", EDIT),
                *_model_perms("ecommerce", "modelversion"),
                *_model_perms("recommendations", "recommenderversion"),
            ),
        ),
        Role(
            "catalog_manager",
            "Catalog managers",
            "Edit products and categories, the recommendation business rules; retrain the recommender "
            "and start A/B tests.",
            (
                RETRAIN_RECOMMENDERS,
                *_model_perms("ecommerce", "product", EDIT),
                *_model_perms("ecommerce", "category", EDIT),
                *_model_perms("recommendations", "businessrules", (*EDIT, "delete")),
                *_model_perms("recommendations", "recommenderversion"),
                *_model_perms("recommendations", "similarproduct"),
            ),
        ),
        Role(
            "order_manager",
            "Order managers",
            "Read and act on any customer's order (API, admin, chatbot): cancel, return, change the address; "
            "approve, receive and refund return requests.",
            (
                VIEW_CUSTOMER_ORDERS,
                MANAGE_ORDERS,
                MANAGE_RETURNS,
                *_model_perms("ecommerce", "returnrequest"),
                *_model_perms("ecommerce", "order", ("view", "change")),
                *_model_perms("ecommerce", "orderitem"),
                *_model_perms("ecommerce", "user"),
            ),
        ),
        Role(
            "marketing",
            "Marketing",
            "Manage advertisers, every advertiser's campaigns and ads, approve or reject advertisers' "
            "campaigns, set reserve prices and ad slots, revoke API tokens, and read the reports and the "
            "saved segments used for targeting.",
            (
                REVIEW_CAMPAIGNS,
                *_model_perms("advertising", "adssettings", ("view", "change")),
                *_model_perms("advertising", "apitoken", ("view", "change")),
                *_model_perms("advertising", "advertiser", EDIT),
                *_model_perms("advertising", "campaign", EDIT),
                *_model_perms("advertising", "ad", EDIT),
                *_model_perms("advertising", "dailyreport"),
                *_model_perms("analytics", "segment"),
            ),
        ),
    ]
}


# --- checks -------------------------------------------------------------------------------------


def user_can(user: Any, perm: str) -> bool:
    """True if an active, signed-in user holds `perm` (directly, through a group, or as superuser)."""
    return bool(
        user is not None and getattr(user, "is_authenticated", False) and user.is_active and user.has_perm(perm)
    )


def perm_require(user: Any, perm: str, message: str = "You are not allowed to do that.") -> None:
    """Raise the domain PermissionDenied (403 in the API) unless the user holds `perm`."""
    if not user_can(user, perm):
        logger.info("roles.denied", extra={"user_id": getattr(user, "pk", None), "perm": perm})
        raise PermissionDenied(message)


# --- groups ---------------------------------------------------------------------------------


def role_groups_sync(*, apps: Any = None, missing_ok: bool = False) -> dict[str, int]:
    """Create the role groups and give each exactly its permissions. Safe to run twice.

    `apps` is the migration's historical registry inside a data migration, else the live one.
    Returns {group name: number of permissions}.
    """
    if apps is None:
        from django.apps import apps as live_apps

        apps = live_apps
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    result = {}
    for role in ROLES.values():
        group, _ = group_model.objects.get_or_create(name=role.group)
        perms = []
        for name in role.permissions:
            app_label, codename = name.split(".", 1)
            perm = permission_model.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm is None:
                if missing_ok:  # a data migration runs before later migrations add their permissions
                    continue
                raise LookupError(f"Permission {name} does not exist; run migrate first.")
            perms.append(perm)
        group.permissions.set(perms)
        result[role.group] = len(perms)
    return result


def role_groups_sync_after_migrate(sender: Any, **kwargs: Any) -> None:
    """post_migrate: keep the groups equal to ROLES after every `migrate`, including permissions that
    migrations later than ecommerce/0003 add (its data migration can only grant what exists then)."""
    from django.apps import apps as live_apps
    from django.contrib.auth.management import create_permissions

    using = kwargs.get("using", "default")
    # Permissions of apps listed after ecommerce are created by their own post_migrate calls,
    # which have not run yet: create them now (idempotent).
    for app_config in live_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    role_groups_sync()

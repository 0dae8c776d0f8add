"""The role matrix: every URL of the URLconf x every kind of account -> the status it must answer.

The URLconf is walked with django.urls' resolver, so a new route fails
`test_every_url_pattern_has_an_expectation` until someone writes down who may use it. Path
parameters are filled with real rows of another customer (the "victim") and of advertisers, so
"may a staff account read someone else's order" is asked with a real order.

Admin: the index, the site's own pages, every custom admin view, and each registered ModelAdmin's
changelist (ADMIN_CHANGELISTS; the add/change/delete/history views of a ModelAdmin use the same
model permissions as its changelist). Each (URL, account) request runs in a savepoint that is
rolled back, so a cancel or a delete by one account does not change what the next one sees.

Expected values: a status, or (302, "/prefix") for a redirect whose Location starts with prefix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from advertising.models import Ad, Advertiser, ApiToken, Campaign
from advertising.tokens import api_token_create
from ecommerce.models import ReturnLine, ReturnRequest
from support.models import Conversation, Message
from tests.factories import (
    CategoryFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
    RoleStaffFactory,
    StaffFactory,
    UserFactory,
)

ROLES = ("support_agent", "analyst", "catalog_manager", "order_manager", "marketing")
ACTORS = ("anonymous", "shopper", "staff", *ROLES, "advertiser", "superuser")
SIGNED_IN = tuple(a for a in ACTORS if a != "anonymous")
STAFF = ("staff", *ROLES, "superuser")
NOT_STAFF = ("anonymous", "shopper", "advertiser")

ADMIN_LOGIN = (302, "/admin/login/")
SHOP_LOGIN = (302, "/accounts/login/")

Expected = int | tuple[int, str]


def everyone(status: Expected, **overrides: Expected) -> dict[str, Expected]:
    return {actor: overrides.get(actor, status) for actor in ACTORS}


def holders(
    roles: tuple[str, ...],
    *,
    ok: Expected = 200,
    denied: Expected = 403,
    anonymous: Expected = 403,
    non_staff: Expected | None = None,
) -> dict[str, Expected]:
    """A capability: `roles` and the superuser get `ok`; other signed-in accounts `denied`."""
    result = {actor: ok if actor in (*roles, "superuser") else denied for actor in ACTORS}
    result["anonymous"] = anonymous
    if non_staff is not None:
        result["shopper"] = result["advertiser"] = non_staff
    return result


def staff_page(roles: tuple[str, ...], ok: Expected = 200) -> dict[str, Expected]:
    """An HTML page for a capability: anonymous visitors go to the admin login, others get 403."""
    return holders(roles, ok=ok, anonymous=ADMIN_LOGIN)


def admin_view(roles: tuple[str, ...], ok: Expected = 200, denied: Expected = 403) -> dict[str, Expected]:
    """A view inside the admin: non-staff are sent to the admin login before any check."""
    return holders(roles, ok=ok, denied=denied, anonymous=ADMIN_LOGIN, non_staff=ADMIN_LOGIN)


@dataclass
class Case:
    expected: dict[str, Expected]
    method: str = "get"
    data: Callable[[World], dict] | dict | None = None
    query: str = ""
    params: dict[str, str] = field(default_factory=dict)  # path parameter -> World attribute
    url: Callable[[World], str] | None = None  # for regex routes
    cookies: dict[str, str] = field(default_factory=dict)
    label: str = ""


# --- the world the requests run in ---------------------------------------------------------------


@dataclass
class World:
    actors: dict[str, Any]
    victim: Any
    victim_order: Any
    product: Any
    category: Any
    conversation: Any
    message: Any
    own_campaign: Any
    other_campaign: Any
    victim_return: Any
    own_ad: Any = None
    own_token: Any = None

    def param(self, name: str, attribute: str | None) -> str:
        values = {
            "number": self.victim_order.number,
            "product_id": self.product.pk,
            "user_id": self.victim.pk,
            "conversation_id": self.conversation.pk,
            "message_id": self.message.pk,
            "pk": self.other_campaign.pk,
            "slug": self.category.slug,
            "token": "not-a-click-token",
            "content_type_id": ContentType.objects.get_for_model(self.category).pk,
            "object_id": self.category.pk,
            "return_id": self.victim_return.pk,
            "move": "approve",
            "ad_id": self.own_ad.pk,
            "token_id": self.own_token.pk,
        }
        if attribute is not None:
            return str(_attr(self, attribute))
        return str(values[name])


def _attr(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _campaign(advertiser: Advertiser, name: str) -> Campaign:
    campaign = Campaign.objects.create(
        advertiser=advertiser,
        name=name,
        status=Campaign.Status.ACTIVE,
        starts_at=timezone.now() - timedelta(days=1),
        daily_budget="100.00",
        total_budget="1000.00",
        bid_type=Campaign.BidType.CPC,
        bid="0.50",
    )
    Ad.objects.create(campaign=campaign, headline=f"{name} ad", landing_url="https://example.com/")
    return campaign


@pytest.fixture
def world(db) -> World:
    actors: dict[str, Any] = {
        "anonymous": None,
        "shopper": UserFactory(),
        "staff": RoleStaffFactory(role=None),
        "superuser": StaffFactory(),
    }
    for role in ROLES:
        actors[role] = RoleStaffFactory(role=role)
    acme = Advertiser.objects.create(name="Acme Ads")
    actors["advertiser"] = UserFactory()
    acme.users.add(actors["advertiser"])
    victim = UserFactory()
    category = CategoryFactory()
    product = ProductFactory(category=category)
    victim_order = OrderFactory(user=victim, status="paid")
    OrderItemFactory(order=victim_order, product=product)
    delivered = OrderFactory(user=victim, status="delivered", delivered_at=timezone.now())
    delivered_line = OrderItemFactory(order=delivered, product=product, quantity=2)
    victim_return = ReturnRequest.objects.create(order=delivered, reason="Too small", requested_by=victim)
    ReturnLine.objects.create(return_request=victim_return, item=delivered_line, quantity=1)
    conversation = Conversation.objects.create(user=victim, status=Conversation.Status.WAITING)
    message = Message.objects.create(
        conversation=conversation, sender=Message.Sender.SHOPPER, text="Where is my order?"
    )
    own_campaign = _campaign(acme, "Acme spring")
    _, _key = api_token_create(user=actors["advertiser"], advertiser=acme, name="CI")
    return World(
        actors=actors,
        victim=victim,
        victim_order=victim_order,
        product=product,
        category=category,
        conversation=conversation,
        message=message,
        own_campaign=own_campaign,
        other_campaign=_campaign(Advertiser.objects.create(name="Other Ads"), "Other spring"),
        victim_return=victim_return,
        own_ad=own_campaign.ads.first(),
        own_token=ApiToken.objects.get(advertiser=acme),
    )


# --- expectations ---------------------------------------------------------------------------------


def _campaign_body(world: World) -> dict:
    return {
        "name": "New",
        "starts_at": timezone.now().isoformat(),
        "daily_budget": "10.00",
        "total_budget": "100.00",
        "bid_type": "cpc",
        "bid": "0.40",
    }


OWN_CAMPAIGN = {"pk": "own_campaign.pk"}
# The advertiser API: a request without a session or token answers 401 (WWW-Authenticate: Token).
ADS_API_ANON = 401
# The advertiser portal: its advertiser's members only; other accounts get a 403 page.
PORTAL = holders(("advertiser",), anonymous=SHOP_LOGIN) | {"superuser": 403}
PORTAL_OWN = PORTAL
PORTAL_OTHERS = everyone(403, anonymous=SHOP_LOGIN, advertiser=404)
ANALYTICS = staff_page(("analyst",))
ANALYTICS_API = holders(("analyst",))
AGENT_API = holders(("support_agent",))
SIGNED_IN_API = everyone(200, anonymous=403)
NOT_FOR_OTHERS = everyone(404, anonymous=SHOP_LOGIN)  # a shopper page about someone else's data

EXPECTATIONS: dict[str, list[Case]] = {
    # --- admin site pages (ModelAdmin changelists: ADMIN_CHANGELISTS below)
    "admin/": [Case(everyone(200, anonymous=ADMIN_LOGIN, shopper=ADMIN_LOGIN, advertiser=ADMIN_LOGIN))],
    "admin/login/": [Case(everyone((302, "/admin/"), anonymous=200, shopper=200, advertiser=200))],
    "admin/logout/": [Case(everyone((302, "/")), method="post")],
    "admin/password_change/": [Case(admin_view(STAFF[:-1]))],
    "admin/password_change/done/": [Case(admin_view(STAFF[:-1]))],
    # without its query parameters the autocomplete refuses everyone, superusers too
    "admin/autocomplete/": [Case(everyone(403, anonymous=ADMIN_LOGIN, shopper=ADMIN_LOGIN, advertiser=ADMIN_LOGIN))],
    "admin/jsi18n/": [Case(admin_view(STAFF[:-1]))],
    "admin/r/<path:content_type_id>/<path:object_id>/": [
        Case(admin_view(STAFF[:-1], ok=(302, "http://testserver/c/")))
    ],
    "admin/^(?P<app_label>auth|axes|ecommerce|recommendations|support|advertising|analytics)/$": [
        Case(
            admin_view(("support_agent", "analyst", "catalog_manager", "order_manager"), denied=404),
            url=lambda w: "/admin/ecommerce/",
            label="ecommerce app",
        ),
        Case(admin_view(("marketing",), denied=404), url=lambda w: "/admin/advertising/", label="advertising app"),
    ],
    "admin/(?P<url>.*)$": [
        Case(
            everyone(404, anonymous=ADMIN_LOGIN, shopper=ADMIN_LOGIN, advertiser=ADMIN_LOGIN),
            url=lambda w: "/admin/no-such-page/",
        )
    ],
    # custom admin views: a customer's recommendations, retraining, campaign reports
    "admin/recommendations/recommenderversion/preview/": [
        Case(admin_view(("support_agent",)), query=""),
    ],
    "admin/recommendations/recommenderversion/retrain/": [
        Case(admin_view(("catalog_manager",), ok=(302, "/admin/recommendations/recommenderversion/")), method="post"),
    ],
    "admin/ecommerce/event/person/<str:kind>/<str:value>/": [
        Case(
            admin_view(("support_agent",)),
            url=lambda w: f"/admin/ecommerce/event/person/user/{w.victim.pk}/",
            label="a customer's timeline",
        )
    ],
    "admin/advertising/campaign/<int:pk>/report/": [Case(admin_view(("marketing",)))],
    "admin/advertising/campaign/<int:pk>/report.csv": [Case(admin_view(("marketing",)))],
    "admin/advertising/campaign/<int:pk>/review/": [Case(admin_view(("marketing",)))],
    # uploaded media (product pictures) are public files; a missing one is a 404 for everyone
    "media/<path:path>": [
        Case(everyone(404), url=lambda w: "/media/products/no-such-picture.webp", label="a missing file")
    ],
    # --- API documentation
    "api/schema/": [Case(everyone(200))],
    "api/docs/": [Case(everyone(200))],
    # --- catalog, events, orders, data export
    "analytics/refresh/": [
        Case(
            staff_page(("analyst",), ok=(302, "/analytics/dashboard/")),
            method="post",
            data={"start": "2024-01-01", "end": "2024-01-02"},
        )
    ],
    "api/events/": [
        Case(everyone(403), method="post", data={"events": []}, label="no tracking consent"),
        Case(
            everyone(400),
            method="post",
            data={"events": "not a list"},
            cookies={"tracking_consent": "yes"},
            label="consent, bad batch",
        ),
    ],
    "api/products/": [Case(everyone(200))],
    "api/products/<int:product_id>/": [Case(everyone(200))],
    "api/categories/": [Case(everyone(200))],
    "api/orders/": [Case(SIGNED_IN_API)],
    # another customer's order: only the order roles (support reads, order managers act)
    "api/orders/<str:number>/": [Case(holders(("support_agent", "order_manager"), denied=404))],
    "api/orders/<str:number>/cancel/": [Case(holders(("order_manager",), denied=404), method="post")],
    # another customer's returns: read by the order roles; a new request for a paid (not yet
    # shipped) order is refused to those who may act on it (409), hidden from everyone else (404)
    "api/orders/<str:number>/returns/": [
        Case(holders(("support_agent", "order_manager"), denied=404)),
        Case(
            holders(("order_manager",), ok=409, denied=404),
            method="post",
            data=lambda w: {"lines": [{"item_id": w.victim_order.items.first().pk, "quantity": 1}], "reason": "Broken"},
            label="create",
        ),
    ],
    # the merchant's moves on a return request
    "api/returns/<int:return_id>/<slug:move>/": [Case(holders(("order_manager",)), method="post")],
    "api/me/data/": [Case(SIGNED_IN_API)],
    # --- recommendations
    "api/recommendations/me/": [Case(everyone(200))],
    "api/recommendations/users/<int:user_id>/": [Case(holders(("support_agent",)))],
    "api/products/<int:product_id>/similar/": [Case(everyone(200))],
    "api/products/<int:product_id>/bought-together/": [Case(everyone(200))],
    "recommendations/click/<int:product_id>/": [Case(everyone((302, "/products/")))],
    # --- support: the shopper chat (owner only) and the agents' console
    "support/chat/": [Case(everyone(200))],
    "support/console/": [Case(staff_page(("support_agent",)))],
    "support/metrics/": [Case(staff_page(("support_agent", "analyst")))],
    "api/support/conversations/": [Case(everyone(200), method="post", data={"language": "en"})],
    "api/support/conversations/<int:conversation_id>/messages/": [Case(everyone(404))],
    "api/support/conversations/<int:conversation_id>/csat/": [Case(everyone(404), method="post", data={"score": 5})],
    "api/support/agent/conversations/": [Case(AGENT_API)],
    "api/support/agent/conversations/<int:conversation_id>/": [Case(AGENT_API)],
    "api/support/agent/conversations/<int:conversation_id>/claim/": [Case(AGENT_API, method="post")],
    "api/support/agent/conversations/<int:conversation_id>/assign/": [
        Case(AGENT_API, method="post", data=lambda w: {"agent_id": w.actors["support_agent"].pk})
    ],
    "api/support/agent/conversations/<int:conversation_id>/reply/": [
        Case(holders(("support_agent",), ok=201), method="post", data={"text": "Hello, I am on it."})
    ],
    "api/support/agent/conversations/<int:conversation_id>/note/": [
        Case(holders(("support_agent",), ok=201), method="post", data={"text": "Checked the order."})
    ],
    "api/support/agent/conversations/<int:conversation_id>/resolve/": [Case(AGENT_API, method="post")],
    "api/support/agent/conversations/<int:conversation_id>/seen/": [
        Case(AGENT_API, method="post", data=lambda w: {"message_id": w.message.pk})
    ],
    "api/support/agent/messages/<int:message_id>/intent/": [
        Case(AGENT_API, method="post", data={"intent": "track_order"})
    ],
    "api/support/agent/canned/": [Case(AGENT_API)],
    "api/support/agent/intents/": [Case(AGENT_API)],
    # --- advertising: serving is public; campaigns belong to their advertiser (Marketing sees all)
    "api/ads/serve/": [Case(everyone(200), query="slot=listing")],
    "ads/click/<str:token>/": [Case(everyone(400))],
    "api/ads/campaigns/": [
        Case(everyone(200, anonymous=ADS_API_ANON), label="list (scoped, see test_campaign_list_is_scoped)"),
        # only an advertiser's members create (for their own advertiser); the API takes no advertiser
        Case(
            holders(("advertiser",), ok=201, anonymous=ADS_API_ANON) | {"superuser": 403},
            method="post",
            data=_campaign_body,
            label="create for my advertiser",
        ),
    ],
    "api/ads/campaigns/<int:pk>/": [
        Case(
            holders(("marketing", "advertiser"), denied=404, anonymous=ADS_API_ANON), params=OWN_CAMPAIGN, label="own"
        ),
        Case(holders(("marketing",), denied=404, anonymous=ADS_API_ANON), label="another advertiser's"),
        Case(
            holders(("marketing", "advertiser"), denied=404, anonymous=ADS_API_ANON),
            method="patch",
            params=OWN_CAMPAIGN,
            data={"name": "Renamed"},
            label="edit own",
        ),
        Case(
            holders(("marketing",), denied=404, anonymous=ADS_API_ANON),
            method="patch",
            data={"name": "Renamed"},
            label="edit another advertiser's",
        ),
    ],
    "api/ads/campaigns/<int:pk>/transition/": [
        Case(
            holders(("marketing", "advertiser"), denied=404, anonymous=ADS_API_ANON),
            method="post",
            params=OWN_CAMPAIGN,
            data={"status": "paused"},
            label="own",
        ),
        Case(
            holders(("marketing",), denied=404, anonymous=ADS_API_ANON),
            method="post",
            data={"status": "paused"},
            label="another advertiser's",
        ),
    ],
    "api/ads/campaigns/<int:pk>/audience/": [
        Case(
            holders(("marketing", "advertiser"), denied=404, anonymous=ADS_API_ANON), params=OWN_CAMPAIGN, label="own"
        ),
        Case(holders(("marketing",), denied=404, anonymous=ADS_API_ANON), label="another advertiser's"),
    ],
    "api/ads/campaigns/<int:pk>/ads/": [
        Case(
            holders(("marketing", "advertiser"), denied=404, anonymous=ADS_API_ANON), params=OWN_CAMPAIGN, label="own"
        ),
        Case(holders(("marketing",), denied=404, anonymous=ADS_API_ANON), label="another advertiser's"),
        Case(
            holders(("marketing", "advertiser"), ok=201, denied=404, anonymous=ADS_API_ANON),
            method="post",
            params=OWN_CAMPAIGN,
            data=lambda w: {"product_id": w.product.pk},
            label="add to own",
        ),
    ],
    "api/ads/campaigns/<int:pk>/ads/<int:ad_id>/": [
        Case(
            holders(("marketing", "advertiser"), denied=404, anonymous=ADS_API_ANON),
            method="patch",
            params=OWN_CAMPAIGN,
            data={"is_active": False},
            label="switch off own",
        ),
        Case(
            everyone(404, anonymous=ADS_API_ANON),
            method="patch",
            data={"is_active": False},
            label="own ad under another advertiser's campaign",
        ),
    ],
    "api/ads/campaigns/<int:pk>/report/": [
        Case(
            holders(("marketing", "advertiser"), denied=404, anonymous=ADS_API_ANON), params=OWN_CAMPAIGN, label="own"
        ),
        Case(holders(("marketing",), denied=404, anonymous=ADS_API_ANON), label="another advertiser's"),
    ],
    "api/ads/campaigns/<int:pk>/report.csv": [
        Case(
            holders(("marketing", "advertiser"), denied=404, anonymous=ADS_API_ANON), params=OWN_CAMPAIGN, label="own"
        ),
        Case(holders(("marketing",), denied=404, anonymous=ADS_API_ANON), label="another advertiser's"),
    ],
    # --- the advertiser portal: members of an advertiser only (merchant staff use the admin)
    "advertisers/": [Case(PORTAL)],
    "advertisers/campaigns/new/": [Case(PORTAL)],
    "advertisers/campaigns/<int:pk>/": [
        Case(PORTAL_OWN, params=OWN_CAMPAIGN, label="own"),
        Case(PORTAL_OTHERS, label="another advertiser's"),
    ],
    "advertisers/campaigns/<int:pk>/edit/": [
        Case(PORTAL_OWN, params=OWN_CAMPAIGN, label="own"),
        Case(PORTAL_OTHERS, label="another advertiser's"),
    ],
    "advertisers/campaigns/<int:pk>/status/": [
        Case(
            PORTAL_OWN | {"advertiser": (302, "/advertisers/campaigns/")},
            method="post",
            params=OWN_CAMPAIGN,
            data={"to": "paused"},
            label="pause own",
        ),
        Case(PORTAL_OTHERS, method="post", data={"to": "paused"}, label="pause another advertiser's"),
    ],
    "advertisers/campaigns/<int:pk>/report.csv": [
        Case(PORTAL_OWN, params=OWN_CAMPAIGN, label="own"),
        Case(PORTAL_OTHERS, label="another advertiser's"),
    ],
    "advertisers/audience/": [Case(PORTAL, query="genders=f&min_age=20")],
    "advertisers/products/": [Case(PORTAL, query="q=gift")],
    "advertisers/tokens/": [
        Case(PORTAL),
        Case(PORTAL, method="post", data={"name": "Script"}, label="create"),
    ],
    "advertisers/tokens/<int:token_id>/revoke/": [
        Case(PORTAL | {"advertiser": (302, "/advertisers/tokens/")}, method="post", label="own advertiser's"),
    ],
    # --- analytics: the analytics permission, never is_staff
    "analytics/dashboard/": [Case(ANALYTICS)],
    "api/analytics/kpis/": [Case(ANALYTICS_API)],
    "api/analytics/trends/": [Case(ANALYTICS_API)],
    "api/analytics/funnel/": [Case(ANALYTICS_API, method="post", data={"window": "7d"})],
    "api/analytics/retention/": [Case(ANALYTICS_API)],
    "api/analytics/rfm/": [Case(ANALYTICS_API)],
    "api/analytics/segments/": [Case(ANALYTICS_API)],
    "api/analytics/top/": [Case(ANALYTICS_API)],
    "api/analytics/heatmap/": [Case(ANALYTICS_API)],
    "api/analytics/distributions/": [Case(ANALYTICS_API)],
    # --- storefront (shopper pages; staff get nothing extra)
    "": [Case(everyone(200))],
    "products/<int:product_id>/": [Case(everyone(200))],
    "c/<slug:slug>/": [Case(everyone(200))],
    "search/": [Case(everyone(200), query="q=gift")],
    "cart/": [Case(everyone(200))],
    "cart/update/": [
        Case(everyone((302, "/cart/")), method="post", data=lambda w: {"product_id": w.product.pk, "quantity": 1})
    ],
    "checkout/": [Case(everyone((302, "/cart/")))],
    "checkout/done/<str:number>/": [Case(everyone(404))],
    "account/": [Case(everyone(200, anonymous=SHOP_LOGIN))],
    "account/orders/": [Case(everyone(200, anonymous=SHOP_LOGIN))],
    "account/orders/<str:number>/": [Case(NOT_FOR_OTHERS)],
    "account/orders/<str:number>/cancel/": [Case(NOT_FOR_OTHERS, method="post")],
    "account/orders/<str:number>/return/": [Case(NOT_FOR_OTHERS, method="post", data={"reason": "Broken"})],
    "account/privacy/": [Case(everyone(200))],
    "account/privacy/export/": [Case(everyone(200, anonymous=SHOP_LOGIN))],
    "account/privacy/delete/": [Case(everyone(400, anonymous=SHOP_LOGIN), method="post", data={}, label="unconfirmed")],
    "privacy/consent/": [Case(everyone(302), method="post", data={"choice": "yes"})],
    "accounts/login/": [Case(everyone((302, "/"), anonymous=200))],
    "accounts/logout/": [Case(everyone((302, "/")), method="post")],
    "accounts/register/": [Case(everyone((302, "/account/"), anonymous=200))],
}

# Registered ModelAdmin -> the roles whose permissions show its changelist (superusers: all).
ADMIN_CHANGELISTS: dict[str, tuple[str, ...]] = {
    "auth.group": (),
    "ecommerce.user": ("order_manager",),
    "ecommerce.category": ("catalog_manager",),
    "ecommerce.product": ("catalog_manager",),
    # login lockouts (django-axes): superusers only
    "axes.accessattempt": (),
    "axes.accessfailurelog": (),
    "axes.accesslog": (),
    "ecommerce.taskdelivery": (),  # operations: superusers only
    "ecommerce.order": ("support_agent", "order_manager"),
    "ecommerce.returnrequest": ("order_manager",),
    "ecommerce.event": ("support_agent",),
    "ecommerce.ingestiontoken": (),
    "ecommerce.modelversion": ("analyst",),
    "ecommerce.auditlogentry": (),
    "recommendations.businessrules": ("catalog_manager",),
    "recommendations.recommenderversion": ("analyst", "catalog_manager"),
    "recommendations.userrecommendation": (),
    "recommendations.similarproduct": ("catalog_manager",),
    "support.conversation": ("support_agent",),
    "support.handoff": (),
    "support.intentcorrection": (),
    "support.faqentry": ("support_agent",),
    "support.cannedresponse": ("support_agent",),
    "support.policytext": ("support_agent",),
    "advertising.advertiser": ("marketing",),
    "advertising.campaign": ("marketing",),
    "advertising.dailyreport": ("marketing",),
    "advertising.adssettings": ("marketing",),
    "advertising.apitoken": ("marketing",),
    "analytics.dashboard": ("analyst",),
    "analytics.segment": ("analyst", "marketing"),
}
CHANGELIST_OK = {"analytics.dashboard": (302, "/analytics/dashboard/")}

# The standard views every ModelAdmin adds; they share the changelist's model permissions.
MODEL_ADMIN_VIEW = re.compile(r"^admin:\w+_(changelist|add|history|delete|change)$")


# --- walking the URLconf ------------------------------------------------------------------------


def url_routes() -> list[tuple[str, str]]:
    """(route, name) for every URL pattern, routes joined from their includes."""

    def walk(patterns, prefix: str, namespace: str):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                ns = f"{namespace}:{pattern.namespace}".strip(":") if pattern.namespace else namespace
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), ns)
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), f"{namespace}:{pattern.name or ''}".strip(":")

    return list(walk(get_resolver().url_patterns, "", ""))


def _is_model_admin_view(route: str, name: str) -> bool:
    if MODEL_ADMIN_VIEW.match(name) or name == "admin:auth_user_password_change":
        return True
    # the unnamed "<object_id>/" redirect each ModelAdmin adds to its change view
    return name == "admin" and route.endswith("/<path:object_id>/") and route.count("/") == 4


def test_every_url_pattern_has_an_expectation():
    routes = url_routes()
    missing = [route for route, name in routes if not _is_model_admin_view(route, name) and route not in EXPECTATIONS]
    assert not missing, f"URL patterns without a role-matrix expectation (add them to EXPECTATIONS): {missing}"
    stale = set(EXPECTATIONS) - {route for route, _ in routes}
    assert not stale, f"Expectations for URL patterns that no longer exist: {sorted(stale)}"
    registered = {f"{model._meta.app_label}.{model._meta.model_name}" for model in admin.site._registry}
    assert registered == set(ADMIN_CHANGELISTS), (
        f"ModelAdmins without an expectation: {sorted(registered - set(ADMIN_CHANGELISTS))}; "
        f"expected but not registered: {sorted(set(ADMIN_CHANGELISTS) - registered)}"
    )
    for route, cases in EXPECTATIONS.items():
        for case in cases:
            assert set(case.expected) == set(ACTORS), route


def _cases() -> list[Any]:
    params = []
    for route, cases in EXPECTATIONS.items():
        for case in cases:
            label = f"{case.method.upper()} /{route} {case.label}".strip()
            params.append(pytest.param(route, case, id=label))
    for model, roles in ADMIN_CHANGELISTS.items():
        app_label, model_name = model.split(".")
        case = Case(
            admin_view(roles, ok=CHANGELIST_OK.get(model, 200)),
            url=lambda w, a=app_label, m=model_name: f"/admin/{a}/{m}/",
        )
        params.append(pytest.param(f"admin/{app_label}/{model_name}/", case, id=f"GET changelist {model}"))
    return params


PARAMETER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")


def _path(route: str, case: Case, world: World) -> str:
    if case.url is not None:
        return case.url(world)
    return "/" + PARAMETER.sub(lambda m: world.param(m.group("name"), case.params.get(m.group("name"))), route)


def _matches(expected: Expected, response) -> bool:
    if isinstance(expected, tuple):
        status, prefix = expected
        return response.status_code == status and response.get("Location", "").startswith(prefix)
    return response.status_code == expected


def _describe(response) -> str:
    location = response.get("Location")
    return f"{response.status_code}" + (f" -> {location}" if location else "")


@pytest.mark.parametrize(("route", "case"), _cases())
def test_role_matrix(world: World, route: str, case: Case):
    path = _path(route, case, world) + (f"?{case.query}" if case.query else "")
    data = case.data(world) if callable(case.data) else case.data
    wrong = []
    for actor in ACTORS:
        cache.clear()  # throttles and cached answers must not carry over between accounts
        with transaction.atomic():
            client = Client(raise_request_exception=False)
            for name, value in case.cookies.items():
                client.cookies[name] = value
            if world.actors[actor] is not None:
                client.force_login(world.actors[actor])
            kwargs: dict[str, Any] = {}
            if data is not None:
                kwargs = {"data": json.dumps(data), "content_type": "application/json"}
                if route.startswith(("cart/", "privacy/", "account/", "analytics/", "advertisers/")):  # HTML forms
                    kwargs = {"data": data}
            response = getattr(client, case.method)(path, **kwargs)
            transaction.set_rollback(True)
        if not _matches(case.expected[actor], response):
            wrong.append(f"{actor}: expected {case.expected[actor]}, got {_describe(response)}")
    assert not wrong, f"{case.method.upper()} {path}:\n  " + "\n  ".join(wrong)


def test_campaign_list_is_scoped(world: World):
    """The list answers everyone signed in; what it holds depends on who asks."""
    names = {}
    for actor in ("shopper", "staff", "analyst", "marketing", "advertiser", "superuser"):
        client = Client()
        client.force_login(world.actors[actor])
        names[actor] = sorted(c["name"] for c in client.get("/api/ads/campaigns/").json())
    assert names == {
        "shopper": [],
        "staff": [],
        "analyst": [],
        "advertiser": ["Acme spring"],
        "marketing": ["Acme spring", "Other spring"],
        "superuser": ["Acme spring", "Other spring"],
    }

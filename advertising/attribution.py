"""Conversions: which campaign gets the credit for a purchase.

The rule (docs in README "Advertiser portal"):

- Who: the shopper who bought, as far as we may recognise them: the account of the order, the
  account a guest order was later linked to (UserAlias guest_order), the account's pre-login
  sessions (UserAlias session), and for any order the session and the consented anonymous id the
  purchase was logged under (purchase events exist only with tracking consent), plus the other
  sessions of that anonymous id. Impressions and clicks name a session or account only with
  consent, so nothing here ever matches a shopper who declined tracking.
- Which touch: the LAST CLICK before the purchase that is within its campaign's click window
  (`Campaign.attribution_days`, default 7 days) wins. Only if no click qualifies, the LAST
  IMPRESSION within its campaign's view window (`Campaign.view_attribution_days`, default 1 day;
  0 turns view-through off) wins. A click beats any view, even a later one: a click is the
  stronger signal and the advertiser paid for it.
- Once: one conversion per order (unique order); running twice or concurrently adds nothing.
- Worth: the order's total (its lines at the prices paid); orders with nothing to pay are skipped.
  Cancelled and unpaid (pending) orders do not count.

`conversions_attribute` runs from `report_rollups_refresh` (Celery beat, every 10 minutes), so
a purchase shows in the report at the next rollup.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ecommerce.models import Event, Order, UserAlias

from .models import Click, Conversion, Impression

logger = logging.getLogger(__name__)

# The longest windows a campaign may set (model validators): touches older than these never count.
MAX_CLICK_DAYS = 90
MAX_VIEW_DAYS = 30


@dataclass
class _Buyer:
    """Whom one order may be matched to."""

    user_ids: set[int] = field(default_factory=set)
    session_keys: set[str] = field(default_factory=set)


def _buyers_of(orders: list[Order]) -> dict[int, _Buyer]:
    """Per order id: the accounts and (consented) sessions of the shopper who placed it."""
    buyers = {o.pk: _Buyer(user_ids={o.user_id} if o.user_id else set()) for o in orders}
    by_number = {o.number: o for o in orders}
    # Guest orders later linked to an account at login.
    for user_id, number in UserAlias.objects.filter(
        kind=UserAlias.Kind.GUEST_ORDER, value__in=list(by_number)
    ).values_list("user_id", "value"):
        buyers[by_number[number].pk].user_ids.add(user_id)
    # The session and anonymous id the purchase was logged under (with consent only).
    anonymous_by_order: dict[int, set[str]] = defaultdict(set)
    # Purchase events are logged at the order's placed_at: the time range keeps this on the
    # (type, occurred_at) index instead of reading every purchase's JSON.
    first, last = min(o.placed_at for o in orders), max(o.placed_at for o in orders)
    for props, session_key, anonymous_id in Event.objects.filter(
        type=Event.Type.PURCHASE,
        occurred_at__gte=first - timedelta(hours=1),
        occurred_at__lte=last + timedelta(hours=1),
        properties__order__in=list(by_number),
    ).values_list("properties", "session_key", "anonymous_id"):
        order = by_number.get((props or {}).get("order"))
        if order is None:
            continue
        if session_key:
            buyers[order.pk].session_keys.add(session_key)
        if anonymous_id:
            anonymous_by_order[order.pk].add(anonymous_id)
    # Other sessions of the same consented anonymous id (the browser kept it across sessions).
    if anonymous_by_order:
        earliest = min(o.placed_at for o in orders) - timedelta(days=MAX_CLICK_DAYS)
        wanted = set().union(*anonymous_by_order.values())
        sessions_of: dict[str, set[str]] = defaultdict(set)
        for anonymous_id, session_key in (
            Event.objects.filter(anonymous_id__in=wanted, occurred_at__gte=earliest)
            .exclude(session_key="")
            .values_list("anonymous_id", "session_key")
            .distinct()
        ):
            sessions_of[anonymous_id].add(session_key)
        for order_id, ids in anonymous_by_order.items():
            for anonymous_id in ids:
                buyers[order_id].session_keys |= sessions_of[anonymous_id]
    # Pre-login sessions of the accounts.
    all_users = set().union(*(b.user_ids for b in buyers.values())) if buyers else set()
    if all_users:
        sessions_by_user: dict[int, set[str]] = defaultdict(set)
        for user_id, key in UserAlias.objects.filter(kind=UserAlias.Kind.SESSION, user_id__in=all_users).values_list(
            "user_id", "value"
        ):
            sessions_by_user[user_id].add(key)
        for buyer in buyers.values():
            for user_id in buyer.user_ids:
                buyer.session_keys |= sessions_by_user[user_id]
    return buyers


def _touch_filter(buyers: dict[int, _Buyer], *, user_field: str, session_field: str) -> Q:
    users = set().union(*(b.user_ids for b in buyers.values()))
    sessions = set().union(*(b.session_keys for b in buyers.values()))
    who = Q(pk__in=[])
    if users:
        who |= Q(**{f"{user_field}__in": users})
    if sessions:
        who |= Q(**{f"{session_field}__in": sessions})
    return who


def _matches(buyer: _Buyer, user_id: int | None, session_key: str) -> bool:
    return (user_id is not None and user_id in buyer.user_ids) or (
        bool(session_key) and session_key in buyer.session_keys
    )


@dataclass(frozen=True)
class Touch:
    kind: str  # Conversion.Kind
    campaign_id: int
    at: datetime
    click_id: int | None
    impression_id: int


def touches_pick(order: Order, buyer: _Buyer, clicks: list[tuple], impressions: list[tuple]) -> Touch | None:
    """The winning touch of one order: the last click within its click window, else the last
    impression within its view window (the buyer's own rows, sorted newest first)."""
    placed = order.placed_at
    for click_id, impression_id, campaign_id, user_id, session_key, at, click_days, _view_days in clicks:
        if at <= placed and placed - at <= timedelta(days=click_days) and _matches(buyer, user_id, session_key):
            return Touch(Conversion.Kind.CLICK, campaign_id, at, click_id, impression_id)
    for impression_id, campaign_id, user_id, session_key, at, view_days in impressions:
        if (
            view_days
            and at <= placed
            and placed - at <= timedelta(days=view_days)
            and _matches(buyer, user_id, session_key)
        ):
            return Touch(Conversion.Kind.VIEW, campaign_id, at, None, impression_id)
    return None


class _TouchIndex:
    """Touch rows by account and by session, so each order scans only its buyer's rows."""

    def __init__(self, rows: list[tuple], *, user_at: int, session_at: int, time_at: int):
        self.time_at = time_at
        self.by_user: dict[int, list[tuple]] = defaultdict(list)
        self.by_session: dict[str, list[tuple]] = defaultdict(list)
        for row in rows:
            if row[user_at] is not None:
                self.by_user[row[user_at]].append(row)
            if row[session_at]:
                self.by_session[row[session_at]].append(row)

    def of(self, buyer: _Buyer) -> list[tuple]:
        found: dict[int, tuple] = {}
        for user_id in buyer.user_ids:
            found.update((row[0], row) for row in self.by_user.get(user_id, ()))
        for key in buyer.session_keys:
            found.update((row[0], row) for row in self.by_session.get(key, ()))
        return sorted(found.values(), key=lambda row: (row[self.time_at], row[0]), reverse=True)


def conversions_attribute(*, since: datetime, until: datetime | None = None) -> int:
    """Attribute the paid orders placed in [since, until) to their winning ad touch. Idempotent."""
    until = until or timezone.now()
    orders = list(
        Order.objects.not_cancelled()
        .filter(placed_at__gte=since, placed_at__lt=until)
        .exclude(status=Order.Status.PENDING)
        .exclude(pk__in=Conversion.objects.filter(order__placed_at__gte=since).values("order_id"))
        .prefetch_related("items")
    )
    if not orders:
        return 0
    buyers = _buyers_of(orders)
    buyers = {k: b for k, b in buyers.items() if b.user_ids or b.session_keys}
    if not buyers:
        return 0
    orders = [o for o in orders if o.pk in buyers]
    first = min(o.placed_at for o in orders)
    last = max(o.placed_at for o in orders)
    clicks = list(
        Click.objects.filter(
            _touch_filter(buyers, user_field="user_id", session_field="impression__session_key")
            | _touch_filter(buyers, user_field="impression__user_id", session_field="impression__session_key"),
            created_at__gte=first - timedelta(days=MAX_CLICK_DAYS),
            created_at__lte=last,
        )
        .order_by("-created_at", "-pk")
        .values_list(
            "pk",
            "impression_id",
            "campaign_id",
            "user_id",
            "impression__session_key",
            "created_at",
            "campaign__attribution_days",
            "campaign__view_attribution_days",
        )
    )
    # A click without an account on it (the shopper signed in later) still names the impression's account.
    impression_users = dict(
        Impression.objects.filter(pk__in=[c[1] for c in clicks if c[3] is None], user__isnull=False).values_list(
            "pk", "user_id"
        )
    )
    clicks = [(c[0], c[1], c[2], c[3] or impression_users.get(c[1]), *c[4:]) for c in clicks]
    impressions = list(
        Impression.objects.filter(
            _touch_filter(buyers, user_field="user_id", session_field="session_key"),
            created_at__gte=first - timedelta(days=MAX_VIEW_DAYS),
            created_at__lte=last,
            campaign__view_attribution_days__gt=0,
        )
        .order_by("-created_at", "-pk")
        .values_list("pk", "campaign_id", "user_id", "session_key", "created_at", "campaign__view_attribution_days")
    )
    click_index = _TouchIndex(clicks, user_at=3, session_at=4, time_at=5)
    impression_index = _TouchIndex(impressions, user_at=2, session_at=3, time_at=4)
    created = 0
    for order in orders:
        buyer = buyers[order.pk]
        touch = touches_pick(order, buyer, click_index.of(buyer), impression_index.of(buyer))
        if touch is None:
            continue
        revenue = order.total()
        if revenue <= Decimal("0"):
            continue
        try:
            with transaction.atomic():
                Conversion.objects.create(
                    kind=touch.kind,
                    click_id=touch.click_id,
                    impression_id=touch.impression_id,
                    campaign_id=touch.campaign_id,
                    order=order,
                    revenue=revenue,
                    converted_at=order.placed_at,
                    touched_at=touch.at,
                )
        except IntegrityError:  # attributed meanwhile by a concurrent run
            continue
        created += 1
    logger.info("advertising.conversions_attributed", extra={"conversions": created, "orders": len(orders)})
    return created

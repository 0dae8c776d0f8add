"""The core demo data: the shipped UCI slice, customer profiles, demo accounts, browsing sessions.

Everything here is seeded and keyed by natural keys or deterministic ids, so `seed_demo` can run
again without duplicating anything (only the printed passwords change). The UCI data holds
purchases only; the generated sessions add what a real shop's tracker would have seen around
those purchases (views, searches, cart changes, checkout starts) and abandoned visits, so every
dashboard, funnel and model has data to work on.
"""

from __future__ import annotations

import csv
import logging
import random
import re
import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from ..auth_backends import user_cache_forget_many
from ..importers.common import ImportReport, insert_ignoring_conflicts, open_text
from ..importers.online_retail import RetailRow, _customer_id, import_online_retail
from ..models import EVENT_ROW_COLUMNS, Category, Event, Order, OrderItem, Product, User
from ..services.events import event_id_for

logger = logging.getLogger(__name__)

SLICE_PATH = Path(__file__).resolve().parent / "data" / "online_retail_slice.csv.gz"
# Ages are drawn relative to a fixed year so that a seed gives the same birth years every year.
REFERENCE_YEAR = 2026
AGE_BANDS = [((18, 24), 0.12), ((25, 34), 0.24), ((35, 44), 0.22), ((45, 54), 0.18), ((55, 64), 0.14), ((65, 80), 0.10)]
GENDERS = [("f", 0.52), ("m", 0.44), ("o", 0.02), ("", 0.02)]
# Keeps `seed_demo` under a minute on SQLite: ~50k real purchases + at most this many generated.
DEFAULT_MAX_GENERATED_EVENTS = 50_000
MAX_LINES_BROWSED_PER_ORDER = 8
STOPWORDS = {
    "with",
    "pack",
    "small",
    "large",
    "mini",
    "jumbo",
    "assorted",
    "colour",
    "colours",
    "design",
    "vintage",
    "retrospot",
    "set",
    "of",
    "and",
    "the",
    "in",
    "for",
    "red",
    "pink",
    "blue",
    "white",
}


# ---------------------------------------------------------------- the UCI slice


@dataclass(frozen=True)
class SliceSelection:
    """Which customers and guest invoices of the slice to load."""

    customer_ids: frozenset[str]
    guest_invoices: frozenset[str]

    def keep(self, row: RetailRow) -> bool:
        return row.customer_id in self.customer_ids if row.customer_id else row.invoice in self.guest_invoices


def slice_selection(*, path: Path = SLICE_PATH, max_customers: int | None) -> SliceSelection:
    """All of the slice, or its first `max_customers` customers (by id) and a proportional
    handful of guest invoices (quick tests)."""
    customers: set[str] = set()
    guests: set[str] = set()
    with open_text(path) as handle:
        for row in csv.DictReader(handle):
            cid = _customer_id(row["CustomerID"])
            if cid:
                customers.add(cid)
            else:
                guests.add(row["InvoiceNo"].strip())
    if max_customers is None:
        return SliceSelection(frozenset(customers), frozenset(guests))
    return SliceSelection(
        frozenset(sorted(customers)[:max_customers]), frozenset(sorted(guests)[: max(1, max_customers // 5)])
    )


def demo_slice_import(*, selection: SliceSelection, progress: bool = False) -> ImportReport:
    return import_online_retail(path=SLICE_PATH, keep=selection.keep, progress=progress)


@transaction.atomic
def demo_history_bring_forward() -> timedelta:
    """Move the imported slice's year (2010-12..2011-12) so its last invoice falls yesterday.

    A demo shop whose history stopped in 2011 shows empty "last 30 days" dashboards, no trending
    products and no retargeting windows. Whole days only, so weekdays and hours are kept (the
    activity heat-map stays true). A second run finds the history already recent and moves nothing.
    Real imports (import_dataset) never do this: their dates are the data.
    """
    latest = Order.objects.filter(source="uci").order_by("-placed_at").values_list("placed_at", flat=True).first()
    if latest is None:
        return timedelta(0)
    days = (timezone.now() - timedelta(days=1) - latest).days
    days -= days % 7  # keep weekdays: the heat-map and "weekend shopper" clusters stay true
    if days < 7:
        return timedelta(0)
    shift = timedelta(days=days)
    uci_orders = Order.objects.filter(source="uci")
    uci_orders.update(placed_at=F("placed_at") + shift)
    uci_orders.filter(shipped_at__isnull=False).update(shipped_at=F("shipped_at") + shift)
    uci_orders.filter(delivered_at__isnull=False).update(delivered_at=F("delivered_at") + shift)
    # Before the shift every event in a demo database came from the import (sessions come later).
    Event.objects.filter(occurred_at__lte=latest).update(occurred_at=F("occurred_at") + shift)
    return shift


# ---------------------------------------------------------------- profiles


def _weighted(rng: random.Random, choices: list[tuple[Any, float]]) -> Any:
    values, weights = zip(*choices, strict=True)
    return rng.choices(values, weights=weights, k=1)[0]


@transaction.atomic
def demo_profiles_assign(*, seed: int, customers: list[User]) -> int:
    """Give imported customers a plausible birth year, gender and interests (seeded).

    Interests are the categories a customer bought most, plus sometimes one they did not, so
    segments and ad targeting have something real to find.
    """
    bought = defaultdict(Counter)
    for user_id, category_id, n in (
        OrderItem.objects.filter(order__user__in=customers, quantity__gt=0, product__category__isnull=False)
        .values_list("order__user_id", "product__category_id")
        .annotate(n=Count("id"))
    ):
        bought[user_id][category_id] = n
    all_categories = sorted(Category.objects.filter(products__isnull=False).distinct().values_list("pk", flat=True))
    through = User.interests.through
    links = []
    for user in customers:
        rng = random.Random(f"{seed}:profile:{user.external_id or user.pk}")
        low, high = _weighted(rng, AGE_BANDS)
        user.birth_year = REFERENCE_YEAR - rng.randint(low, high)
        user.gender = _weighted(rng, GENDERS)
        favourites = [c for c, _ in sorted(bought[user.pk].items(), key=lambda kv: (-kv[1], kv[0]))[:2]]
        if all_categories and rng.random() < 0.3:
            favourites.append(rng.choice(all_categories))
        links += [through(user_id=user.pk, category_id=c) for c in dict.fromkeys(favourites)]
    User.objects.bulk_update(customers, ["birth_year", "gender"], batch_size=1000)
    user_cache_forget_many([user.pk for user in customers])  # bulk_update sends no post_save
    through.objects.bulk_create(links, ignore_conflicts=True, batch_size=1000)
    return len(customers)


# ---------------------------------------------------------------- accounts


@dataclass(frozen=True)
class DemoAccounts:
    admin_password: str
    shopper_password: str
    shopper: User


def demo_accounts_create() -> DemoAccounts:
    """The staff superuser `admin` and the demo shopper `shopper`, with fresh random passwords."""
    admin, _ = User.objects.get_or_create(username="admin", defaults={"email": "admin@example.com"})
    admin.is_staff = admin.is_superuser = admin.is_active = True
    admin_password = secrets.token_urlsafe(12)
    admin.set_password(admin_password)
    admin.save()
    shopper, _ = User.objects.get_or_create(
        username="shopper",
        defaults={
            "email": "shopper@example.com",
            "first_name": "Sam",
            "last_name": "Shopper",
            "country": "United Kingdom",
            "birth_year": 1988,
            "gender": "f",
            "tracking_consent": True,
        },
    )
    shopper_password = secrets.token_urlsafe(12)
    shopper.set_password(shopper_password)
    shopper.is_active = True
    shopper.save()
    return DemoAccounts(admin_password=admin_password, shopper_password=shopper_password, shopper=shopper)


# (number, status, days ago placed, days ago shipped, days ago delivered)
SHOPPER_ORDERS = [
    ("WDEMO0001", Order.Status.DELIVERED, 60, 58, 55),  # past the return window
    ("WDEMO0002", Order.Status.DELIVERED, 12, 10, 8),  # returnable
    ("WDEMO0003", Order.Status.SHIPPED, 4, 2, None),  # the support bot can track it
    ("WDEMO0004", Order.Status.PAID, 1, None, None),  # paid, not shipped: can be cancelled
]


@transaction.atomic
def demo_shopper_orders_create(*, seed: int, shopper: User) -> list[Order]:
    """Orders of the demo shopper in each interesting state. Existing ones are left as they are
    (a demo visitor may have cancelled one)."""
    rng = random.Random(f"{seed}:shopper")
    products = list(Product.objects.sellable().filter(category__isnull=False, price__gt=0).order_by("sku")[:400])
    if not products:
        return []
    now = timezone.now()
    orders = []
    for number, status, placed_days, shipped_days, delivered_days in SHOPPER_ORDERS:
        placed_at = now - timedelta(days=placed_days)
        order, created = Order.objects.get_or_create(
            number=number,
            defaults={
                "user": shopper,
                "email": shopper.email,
                "status": status,
                "placed_at": placed_at,
                "shipping_name": "Sam Shopper",
                "shipping_address": "1 Demo Street\nLondon SW1A 1AA",
                "country": "United Kingdom",
                "source": "demo",
                "tracking_number": f"TRK{number[-6:]}" if shipped_days is not None else "",
                "shipped_at": now - timedelta(days=shipped_days) if shipped_days is not None else None,
                "delivered_at": now - timedelta(days=delivered_days) if delivered_days is not None else None,
            },
        )
        orders.append(order)
        if not created:
            continue
        events = []
        for line_number, product in enumerate(rng.sample(products, k=min(len(products), rng.randint(1, 3))), 1):
            quantity = rng.randint(1, 4)
            OrderItem.objects.create(
                order=order,
                product=product,
                title=product.title,
                quantity=quantity,
                unit_price=product.price,
                line_number=line_number,
            )
            events.append(
                (
                    event_id_for("demo", number, line_number),
                    Event.Type.PURCHASE.value,
                    placed_at,
                    placed_at,
                    shopper.pk,
                    "",
                    "",
                    product.pk,
                    "",
                    {"order": number, "quantity": quantity, "price": str(product.price), "source": "demo"},
                )
            )
        insert_ignoring_conflicts(Event, EVENT_ROW_COLUMNS, events)
    return orders


# ---------------------------------------------------------------- browsing sessions


class _SessionWriter:
    """Collects one session's events with deterministic ids and rising timestamps."""

    def __init__(self, *, seed: int, tag: str, user_id: int | None, rng: random.Random, start: datetime):
        self.rows: list[tuple] = []
        self.seed, self.tag, self.user_id, self.rng, self.at = seed, tag, user_id, rng, start
        self.anonymous_id = event_id_for("demo-visitor", seed, tag).hex[:20]
        self.session_key = f"demo{seed}{tag}"[:64]

    def end_at(self, last: datetime) -> None:
        """Move the whole session in time so that its last event happens at `last`."""
        if not self.rows:
            return
        shift = last - self.rows[-1][2]
        self.rows = [(r[0], r[1], r[2] + shift, r[3] + shift, *r[4:]) for r in self.rows]
        self.at += shift

    def add(
        self,
        type: str,
        *,
        product_id: int | None = None,
        query: str = "",
        properties: dict[str, Any] | None = None,
        gap_seconds: tuple[int, int] = (8, 90),
    ) -> None:
        self.at += timedelta(seconds=self.rng.randint(*gap_seconds))
        props = {"source": "demo", **(properties or {})}
        self.rows.append(
            (
                event_id_for("demo", self.seed, self.tag, len(self.rows)),
                type,
                self.at,
                self.at,
                self.user_id,
                self.anonymous_id,
                self.session_key,
                product_id,
                query,
                props,
            )
        )


def _search_words(title: str) -> list[str]:
    return [w for w in re.findall(r"[a-z]{4,}", title.lower()) if w not in STOPWORDS]


def demo_sessions_generate(*, seed: int, max_events: int = DEFAULT_MAX_GENERATED_EVENTS) -> int:
    """Browsing sessions around the imported UCI purchases, plus abandoned and browse-only visits.

    Returns the number of events written (existing ids are skipped, so a rerun adds nothing).
    """
    rng = random.Random(f"{seed}:sessions")
    products = list(
        Product.objects.sellable()
        .filter(category__isnull=False)
        .order_by("pk")
        .values_list("pk", "title", "category_id", "category__slug")
    )
    if not products:
        return 0
    by_category: dict[int, list[int]] = defaultdict(list)
    info = {}
    for pk, title, category_id, slug in products:
        by_category[category_id].append(pk)
        info[pk] = (title, category_id, slug)
    product_ids = [p[0] for p in products]
    orders = list(
        Order.objects.filter(source="uci", status=Order.Status.DELIVERED)
        .order_by("number")
        .values_list("pk", "number", "user_id", "placed_at")
    )
    rng.shuffle(orders)
    lines: dict[int, list[tuple[int, int]]] = defaultdict(list)
    order_pks = [o[0] for o in orders]
    for start in range(0, len(order_pks), 2000):  # bounded IN lists for SQLite
        for order_id, product_id, quantity in (
            OrderItem.objects.filter(order_id__in=order_pks[start : start + 2000], quantity__gt=0)
            .order_by("order_id", "line_number")
            .values_list("order_id", "product_id", "quantity")
        ):
            if product_id in info:  # fee lines and unsellable products are not browsed
                lines[order_id].append((product_id, quantity))
    customer_ids = sorted({o[2] for o in orders if o[2]})
    times = sorted(o[3] for o in orders)

    rows: list[tuple] = []
    budget = max_events
    # About 4 purchase sessions for every abandoned one and every browse-only one.
    for index, (order_pk, number, user_id, placed_at) in enumerate(orders):
        if len(rows) >= budget:
            break
        basket = lines.get(order_pk, [])[:MAX_LINES_BROWSED_PER_ORDER]
        if not basket:
            continue
        session = _SessionWriter(seed=seed, tag=f"o{number}", user_id=user_id, rng=rng, start=placed_at)
        _purchase_session(session, basket, info, by_category, rng, number)
        # Shift the session so its checkout starts one to three minutes before the real purchase.
        session.end_at(placed_at - timedelta(seconds=rng.randint(60, 180)))
        rows += session.rows
        if index % 4 == 3 and times:
            rows += _abandoned_session(seed, index, rng, customer_ids, product_ids, by_category, info, times)
            rows += _browse_session(seed, index, rng, product_ids, info, times)
    rows = rows[:budget]
    for start in range(0, len(rows), 5000):
        with transaction.atomic():
            insert_ignoring_conflicts(Event, EVENT_ROW_COLUMNS, rows[start : start + 5000])
    return len(rows)


def _purchase_session(
    session: _SessionWriter,
    basket: list[tuple[int, int]],
    info: dict,
    by_category: dict,
    rng: random.Random,
    number: str,
) -> None:
    first_title, first_category, first_slug = info[basket[0][0]]
    session.add(Event.Type.PAGE_VIEW, properties={"path": "/"})
    if rng.random() < 0.6 and _search_words(first_title):
        words = _search_words(first_title)
        query = " ".join(rng.sample(words, k=min(len(words), rng.choice([1, 1, 2]))))
        session.add(Event.Type.SEARCH, query=query, properties={"path": f"/search/?q={query}"})
    else:
        session.add(Event.Type.PAGE_VIEW, properties={"path": f"/c/{first_slug}/"})
    for product_id, quantity in basket:
        session.add(Event.Type.PRODUCT_VIEW, product_id=product_id, properties={"path": f"/products/{product_id}/"})
        if rng.random() < 0.35:  # looked at a neighbour in the same category and did not buy it
            other = rng.choice(by_category[info[product_id][1]])
            session.add(Event.Type.PRODUCT_VIEW, product_id=other, properties={"path": f"/products/{other}/"})
            if rng.random() < 0.25:
                session.add(Event.Type.ADD_TO_CART, product_id=other, properties={"quantity": 1})
                session.add(Event.Type.REMOVE_FROM_CART, product_id=other, properties={"quantity": 1})
        session.add(Event.Type.ADD_TO_CART, product_id=product_id, properties={"quantity": quantity})
    session.add(Event.Type.CHECKOUT_START, properties={"order": number, "lines": len(basket)})


def _random_time(rng: random.Random, times: list[datetime]) -> datetime:
    return rng.choice(times) + timedelta(hours=rng.randint(-72, 72), minutes=rng.randint(0, 59))


def _abandoned_session(
    seed: int,
    index: int,
    rng: random.Random,
    customer_ids: list[int],
    product_ids: list[int],
    by_category: dict,
    info: dict,
    times: list[datetime],
) -> list[tuple]:
    user_id = rng.choice(customer_ids) if customer_ids and rng.random() < 0.5 else None
    session = _SessionWriter(seed=seed, tag=f"a{index}", user_id=user_id, rng=rng, start=_random_time(rng, times))
    session.add(Event.Type.PAGE_VIEW, properties={"path": "/"})
    seed_product = rng.choice(product_ids)
    words = _search_words(info[seed_product][0])
    if words:
        session.add(Event.Type.SEARCH, query=rng.choice(words), properties={})
    viewed = [seed_product] + rng.sample(
        by_category[info[seed_product][1]], k=min(rng.randint(0, 3), len(by_category[info[seed_product][1]]))
    )
    for product_id in viewed:
        session.add(Event.Type.PRODUCT_VIEW, product_id=product_id, properties={"path": f"/products/{product_id}/"})
    for product_id in viewed[: rng.randint(1, 2)]:
        session.add(Event.Type.ADD_TO_CART, product_id=product_id, properties={"quantity": rng.randint(1, 3)})
    if rng.random() < 0.4:
        session.add(Event.Type.CHECKOUT_START, properties={"lines": min(2, len(viewed))})
    return session.rows


def _browse_session(
    seed: int, index: int, rng: random.Random, product_ids: list[int], info: dict, times: list[datetime]
) -> list[tuple]:
    session = _SessionWriter(seed=seed, tag=f"b{index}", user_id=None, rng=rng, start=_random_time(rng, times))
    session.add(Event.Type.PAGE_VIEW, properties={"path": "/"})
    for product_id in rng.sample(product_ids, k=min(len(product_ids), rng.randint(1, 5))):
        if rng.random() < 0.3:
            session.add(Event.Type.PAGE_VIEW, properties={"path": f"/c/{info[product_id][2]}/"})
        session.add(Event.Type.PRODUCT_VIEW, product_id=product_id, properties={"path": f"/products/{product_id}/"})
    return session.rows


def demo_customers(*, selection: SliceSelection) -> list[User]:
    """The imported customers of the selected slice, for profile assignment."""
    return list(User.objects.filter(external_id__in=sorted(selection.customer_ids)).order_by("pk"))

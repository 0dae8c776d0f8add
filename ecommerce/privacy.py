"""Privacy by design: the one consent rule, data export, erasure and the staff audit log.

The consent rule (`tracking_for`) is the only place that decides whether behaviour data may
name a person or a browser. Every writer of events, recommendation impressions/clicks and ad
impressions/clicks takes the `Tracking` it returns: without consent (or with Do-Not-Track /
Global Privacy Control) it carries no user, no session key and no anonymous id, and the
writers store nothing linked to anyone (ads are still served and billed, anonymously).

Export and erasure cover one `DataSubject`: the account plus what the shopper did before
signing in, found through `UserAlias` rows written at login (docs/storefront.md). Each app
registers its own export and erasure step (ecommerce.plugins), called with the same subject,
so the export holds exactly what erasure removes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from . import plugins
from .models import AuditLogEntry, Cart, CartItem, Event, Order, User, UserAlias
from .selectors.cart import cart_summary_forget

logger = logging.getLogger(__name__)

CONSENT_COOKIE = "tracking_consent"


def tracking_allowed(request: HttpRequest) -> bool:
    """Behavioural tracking needs an explicit yes and no Do-Not-Track / Global Privacy Control."""
    # META rather than request.headers: building the headers mapping costs every request.
    meta = request.META
    if meta.get("HTTP_DNT") == "1" or meta.get("HTTP_SEC_GPC") == "1":
        return False
    return request.COOKIES.get(CONSENT_COOKIE) == "yes"


@dataclass(frozen=True)
class Tracking:
    """Whom behaviour data of one request may name. Built by `tracking_for` (or, for a trusted
    server-side source, `Tracking.consented`); `allowed=False` names nobody."""

    allowed: bool
    user: User | None = None
    session_key: str = ""
    anonymous_id: str = ""

    @classmethod
    def consented(cls, *, user: User | None = None, session_key: str = "", anonymous_id: str = "") -> Tracking:
        return cls(
            allowed=True,
            user=user if user is not None and user.is_authenticated else None,
            session_key=session_key[:64],
            anonymous_id=anonymous_id[:64],
        )


NO_TRACKING = Tracking(allowed=False)


def tracking_for(request: HttpRequest | None, *, anonymous_id: str = "") -> Tracking:
    """THE consent rule for behaviour data: a request's Tracking, or NO_TRACKING."""
    if request is None:
        return NO_TRACKING
    allowed = getattr(request, "tracking_allowed", None)  # set once by PrivacyConsentMiddleware
    if allowed is None:
        allowed = tracking_allowed(request)
    if not allowed:
        return NO_TRACKING
    session = getattr(request, "session", None)
    return Tracking.consented(
        user=getattr(request, "user", None),
        session_key=getattr(session, "session_key", None) or "",
        anonymous_id=anonymous_id,
    )


def session_key_ensure(request: HttpRequest) -> str:
    """The request's session key, saving a new (empty) session first if it has none yet.

    For what needs a session to exist (an anonymous cart, a chat conversation). Tracking that
    needs a key asks `tracking_with_session`, which creates one only with consent."""
    session = request.session
    if not session.session_key:
        session.save()
    return session.session_key or ""


def tracking_with_session(request: HttpRequest) -> Tracking:
    """tracking_for, with a session key guaranteed when (and only when) the shopper consented:
    per-session frequency caps need one; without consent no session is created."""
    if getattr(request, "session", None) is not None and tracking_for(request).allowed:
        session_key_ensure(request)
    return tracking_for(request)


def audit_record(
    *, actor: User | None, action: str, subject: User | None = None, object_repr: str = "", path: str = ""
) -> None:
    AuditLogEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        subject=subject,
        action=action[:64],
        object_repr=object_repr[:200],
        path=path[:255],
    )


# --- identity: the account and what it did before signing in ----------------------------------

# A beacon sent just before login can arrive a little after it.
_LATE_BEACON = timedelta(hours=1)


@dataclass(frozen=True)
class DataSubject:
    """Everything export and erasure look for: the account, its pre-login session keys and
    anonymous ids, and the guest orders proven to be its own."""

    user: User
    session_keys: frozenset[str] = frozenset()
    anonymous_ids: frozenset[str] = frozenset()
    guest_order_numbers: frozenset[str] = frozenset()
    # (session key, logged in at): pre-login events of a session were received before its login.
    session_logins: tuple[tuple[str, Any], ...] = field(default=())

    def events(self) -> QuerySet[Event]:
        """The account's events and the anonymous ones of its pre-login sessions and browsers."""
        anonymous = Q(pk__in=[])
        if self.anonymous_ids:
            anonymous |= Q(anonymous_id__in=self.anonymous_ids)
        for key, logged_in_at in self.session_logins:
            # session_key has no index: the received_at window keeps this an index range scan.
            anonymous |= Q(
                session_key=key,
                received_at__gte=logged_in_at - timedelta(seconds=settings.SESSION_COOKIE_AGE),
                received_at__lte=logged_in_at + _LATE_BEACON,
            )
        return Event.objects.filter(Q(user=self.user) | (Q(user__isnull=True) & anonymous))

    def orders(self) -> QuerySet[Order]:
        guest = Q(user__isnull=True, number__in=self.guest_order_numbers) if self.guest_order_numbers else Q(pk__in=[])
        return Order.objects.filter(Q(user=self.user) | guest)

    def actor_keys(self) -> list[str]:
        """The analytics actor keys of this person ("u<id>", "a<anonymous id>")."""
        return [f"u{self.user.pk}", *(f"a{a}" for a in sorted(self.anonymous_ids))]


def data_subject_for(*, user: User) -> DataSubject:
    aliases = list(UserAlias.objects.filter(user=user).values_list("kind", "value", "created_at"))
    session_logins = tuple((v, at) for k, v, at in aliases if k == UserAlias.Kind.SESSION)
    orders = frozenset(v for k, v, _ in aliases if k == UserAlias.Kind.GUEST_ORDER)
    partial = DataSubject(
        user=user,
        session_keys=frozenset(k for k, _ in session_logins),
        guest_order_numbers=orders,
        session_logins=session_logins,
    )
    # Anonymous ids: those the tracker sent while signed in (same browser storage as before
    # login) and those sent from a pre-login session. Never ids seen on another user's events.
    anonymous = set(
        Event.objects.filter(user=user).exclude(anonymous_id="").values_list("anonymous_id", flat=True).distinct()
    )
    anonymous |= set(
        partial.events()
        .filter(user__isnull=True)
        .exclude(anonymous_id="")
        .values_list("anonymous_id", flat=True)
        .distinct()
    )
    claimed_elsewhere = set(
        Event.objects.filter(anonymous_id__in=anonymous, user__isnull=False)
        .exclude(user=user)
        .values_list("anonymous_id", flat=True)
        .distinct()
    )
    return DataSubject(
        user=user,
        session_keys=partial.session_keys,
        anonymous_ids=frozenset(anonymous - claimed_elsewhere),
        guest_order_numbers=orders,
        session_logins=session_logins,
    )


def user_login_link(
    *, user: User, previous_session_key: str, placed_order_numbers: list[str], tracking: Tracking
) -> None:
    """At login, remember what this browser session did before, so export and erasure find it.

    - the pre-login session key, only with tracking consent (without it nothing was stored
      under that key);
    - guest orders placed in that same session with exactly the account's email (both must
      hold: a shared browser or a borrowed email alone never makes someone else's order ours);
    - then each app's login step (support hands the session's chat to the account).
    """
    if tracking.allowed and previous_session_key:
        UserAlias.objects.get_or_create(user=user, kind=UserAlias.Kind.SESSION, value=previous_session_key[:64])
    if placed_order_numbers and user.email:
        numbers = Order.objects.filter(
            number__in=placed_order_numbers[:50], user__isnull=True, email__iexact=user.email
        ).values_list("number", flat=True)
        for number in numbers:
            UserAlias.objects.get_or_create(user=user, kind=UserAlias.Kind.GUEST_ORDER, value=number)
    for step in plugins.login_steps():
        step.func(user=user, previous_session_key=previous_session_key)


# --- export and erasure ---------------------------------------------------------------------


def _order_export(o: Order) -> dict[str, Any]:
    return {
        "number": o.number,
        "status": o.status,
        "placed_at": o.placed_at.isoformat(),
        "email": o.email,
        "guest": o.user_id is None,
        "shipping_name": o.shipping_name,
        "shipping_address": o.shipping_address,
        "country": o.country,
        "tracking_number": o.tracking_number,
        "lines": [
            {"sku": i.product.sku, "title": i.title, "quantity": i.quantity, "unit_price": str(i.unit_price)}
            for i in o.items.all()
        ],
    }


def _core_export(subject: DataSubject) -> dict[str, Any]:
    user = subject.user
    return {
        "account": {
            "username": user.username,
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "birth_year": user.birth_year,
            "gender": user.gender,
            "country": user.country,
            "interests": list(user.interests.values_list("name", flat=True)),
            "date_joined": user.date_joined.isoformat(),
            "tracking_consent": user.tracking_consent,
        },
        "linked_before_login": {
            "session_keys": sorted(subject.session_keys),
            "anonymous_ids": sorted(subject.anonymous_ids),
            "guest_orders": sorted(subject.guest_order_numbers),
        },
        "orders": [_order_export(o) for o in subject.orders().prefetch_related("items__product").order_by("placed_at")],
        "events": [
            {
                "type": e.type,
                "occurred_at": e.occurred_at.isoformat(),
                "product_id": e.product_id,
                "query": e.query,
                "anonymous_id": e.anonymous_id,
                "signed_in": e.user_id is not None,
                "properties": e.properties,
            }
            for e in subject.events().order_by("occurred_at")[:50_000]
        ],
        "cart": list(CartItem.objects.filter(cart__user=user).order_by("pk").values("product_id", "quantity")),
    }


def user_export_data(*, user: User) -> dict[str, Any]:
    """ "Download my data": exactly what `user_erase` removes, from every app."""
    subject = data_subject_for(user=user)
    data: dict[str, Any] = {"core": _core_export(subject)}
    for step in plugins.export_steps():
        data[step.app] = step.func(user, subject=subject)
    return data


@transaction.atomic
def user_erase(*, user: User) -> dict[str, Any]:
    """Erase a shopper: other apps' steps first, then core events, orders' personal fields, the account.

    Orders stay (the merchant's accounting needs them) but lose every personal field; events stay
    for aggregate analytics but are detached from the person. The same DataSubject as the export.
    """
    subject = data_subject_for(user=user)
    counts: dict[str, Any] = {}
    for step in plugins.erasure_steps():
        counts[step.app] = step.func(user, subject=subject)
    counts["events"] = subject.events().update(user=None, anonymous_id="", session_key="", properties={}, query="")
    counts["orders"] = subject.orders().update(
        user=None, email="", shipping_name="", shipping_address="", tracking_number=""
    )
    Cart.objects.filter(user=user).delete()
    cart_summary_forget(user.pk)
    UserAlias.objects.filter(user=user).delete()
    AuditLogEntry.objects.filter(subject=user).update(object_repr="(erased)")
    user.interests.clear()
    user.username = f"erased-{user.pk}"
    user.email = ""
    user.first_name = user.last_name = ""
    user.birth_year = None
    user.gender = ""
    user.country = ""
    user.external_id = None
    user.tracking_consent = False
    user.is_active = False
    user.set_unusable_password()
    # Also the exclusion list of model training and serving (recommendations reads it).
    user.date_erased = timezone.now()
    user.save()
    logger.info("privacy.user_erased", extra={"user_id": user.pk})
    return counts

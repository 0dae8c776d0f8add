"""Privacy by design: consent, data export, erasure and the staff audit log.

Each app registers its own export and erasure step (ecommerce.plugins) so erasing an account
reaches every table that holds the shopper's personal data, including apps added later.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from . import plugins
from .models import AuditLogEntry, Cart, Event, Order, User

logger = logging.getLogger(__name__)

CONSENT_COOKIE = "tracking_consent"


def tracking_allowed(request: HttpRequest) -> bool:
    """Behavioural tracking needs an explicit yes and no Do-Not-Track / Global Privacy Control."""
    if request.headers.get("DNT") == "1" or request.headers.get("Sec-GPC") == "1":
        return False
    return request.COOKIES.get(CONSENT_COOKIE) == "yes"


def audit_record(*, actor: User | None, action: str, subject: User | None = None, object_repr: str = "", path: str = "") -> None:
    AuditLogEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        subject=subject, action=action[:64], object_repr=object_repr[:200], path=path[:255],
    )


def _core_export(user: User) -> dict[str, Any]:
    return {
        "account": {
            "username": user.username, "email": user.email, "first_name": user.first_name,
            "last_name": user.last_name, "birth_year": user.birth_year, "gender": user.gender,
            "country": user.country, "interests": list(user.interests.values_list("name", flat=True)),
            "date_joined": user.date_joined.isoformat(),
        },
        "orders": [
            {
                "number": o.number, "status": o.status, "placed_at": o.placed_at.isoformat(),
                "shipping_name": o.shipping_name, "shipping_address": o.shipping_address,
                "lines": [
                    {"sku": i.product.sku, "title": i.title, "quantity": i.quantity, "unit_price": str(i.unit_price)}
                    for i in o.items.all()
                ],
            }
            for o in Order.objects.filter(user=user).prefetch_related("items__product")
        ],
        "events": [
            {"type": e.type, "occurred_at": e.occurred_at.isoformat(), "product_id": e.product_id, "query": e.query}
            for e in Event.objects.filter(user=user).order_by("occurred_at")[:50_000]
        ],
    }


def user_export_data(*, user: User) -> dict[str, Any]:
    data: dict[str, Any] = {"core": _core_export(user)}
    for step in plugins.export_steps():
        data[step.app] = step.func(user)
    return data


@transaction.atomic
def user_erase(*, user: User) -> dict[str, Any]:
    """Erase a shopper: other apps' steps first, then core events, orders' personal fields, the account.

    Orders stay (the merchant's accounting needs them) but lose every personal field; events stay
    for aggregate analytics but are detached from the person.
    """
    counts: dict[str, Any] = {}
    for step in plugins.erasure_steps():
        counts[step.app] = step.func(user)
    counts["events"] = Event.objects.filter(user=user).update(user=None, anonymous_id="", session_key="", properties={})
    counts["orders"] = Order.objects.filter(user=user).update(
        user=None, email="", shipping_name="", shipping_address="", tracking_number=""
    )
    Cart.objects.filter(user=user).delete()
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
    user.date_erased = timezone.now()
    user.save()
    logger.info("privacy.user_erased", extra={"user_id": user.pk})
    return counts

"""Support reads: messages since a cursor, the agents' queue, the shopper context, metrics."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Avg, Count, F, Q, QuerySet

from ecommerce.models import Event, Order

from .models import Conversation, Message


def messages_after(*, conversation: Conversation, after_id: int = 0, include_notes: bool = False,
                   limit: int = 200) -> QuerySet[Message]:
    qs = conversation.messages.filter(id__gt=after_id)
    if not include_notes:
        qs = qs.exclude(sender=Message.Sender.NOTE)
    return qs.select_related("author").order_by("id")[:limit]


def queue_list(*, status: str = "", agent=None, limit: int = 100) -> QuerySet[Conversation]:
    qs = Conversation.objects.select_related("user", "assigned_agent").annotate(n_messages=Count("messages"))
    if status:
        qs = qs.filter(status=status)
    if agent is not None:
        qs = qs.filter(assigned_agent=agent)
    return qs.order_by("-updated_at")[:limit]


def queue_counts() -> dict[str, int]:
    rows = Conversation.objects.values("status").annotate(n=Count("id"))
    counts = {s: 0 for s in Conversation.Status.values}
    counts.update({r["status"]: r["n"] for r in rows})
    return counts


def shopper_context(*, conversation: Conversation, orders: int = 5, events: int = 10) -> dict:
    """What the agent sees beside the chat: the shopper's recent orders and activity (own only)."""
    if conversation.user_id is None:
        order_rows = []
        event_rows = Event.objects.filter(session_key=conversation.session_key).exclude(session_key="") \
            if conversation.session_key else Event.objects.none()
    else:
        order_rows = Order.objects.filter(user_id=conversation.user_id).prefetch_related("items").order_by("-placed_at")[:orders]
        event_rows = Event.objects.filter(user_id=conversation.user_id)
    return {
        "orders": [
            {"number": o.number, "status": o.status, "placed_at": o.placed_at.isoformat(),
             "items": sum(max(i.quantity, 0) for i in o.items.all()), "total": str(o.total()),
             "currency": o.currency}
            for o in order_rows
        ],
        "events": [
            {"type": e.type, "occurred_at": e.occurred_at.isoformat(),
             "product": e.product.title if e.product_id else "", "query": e.query}
            for e in event_rows.select_related("product").order_by("-occurred_at")[:events]
        ],
    }


@dataclass(frozen=True)
class SupportMetrics:
    conversations: int
    contained: int
    handed_off: int
    containment_rate: float | None
    handoff_rate: float | None
    avg_first_response_seconds: float | None
    csat_average: float | None
    csat_count: int


def support_metrics() -> SupportMetrics:
    """Containment: conversations with a shopper message the bot finished without a human."""
    engaged = Conversation.objects.filter(messages__sender=Message.Sender.SHOPPER).distinct()
    total = engaged.count()
    handed = engaged.filter(Q(handed_off_at__isnull=False) | Q(assigned_agent__isnull=False)).count()
    response = Conversation.objects.filter(first_agent_reply_at__isnull=False, handed_off_at__isnull=False) \
        .annotate(wait=F("first_agent_reply_at") - F("handed_off_at")).aggregate(avg=Avg("wait"))["avg"]
    csat = Conversation.objects.filter(csat__isnull=False).aggregate(avg=Avg("csat"), n=Count("id"))
    return SupportMetrics(
        conversations=total, contained=total - handed, handed_off=handed,
        containment_rate=round((total - handed) / total, 4) if total else None,
        handoff_rate=round(handed / total, 4) if total else None,
        avg_first_response_seconds=round(response.total_seconds(), 1) if response is not None else None,
        csat_average=round(float(csat["avg"]), 2) if csat["avg"] is not None else None,
        csat_count=csat["n"],
    )

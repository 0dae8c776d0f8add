"""Support reads: messages since a cursor, the agents' queue, the shopper context, metrics."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Avg, Count, F, Q, QuerySet

from ecommerce.models import Cart, Event, Order, ReturnRequest

from .models import Conversation, Message

LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}


def messages_after(
    *, conversation: Conversation, after_id: int = 0, include_notes: bool = False, limit: int = 200
) -> QuerySet[Message]:
    qs = conversation.messages.filter(id__gt=after_id)
    if not include_notes:
        qs = qs.exclude(sender=Message.Sender.NOTE)
    return qs.select_related("author").order_by("id")[:limit]


def queue_list(*, status: str = "", agent=None, limit: int = 100) -> QuerySet[Conversation]:
    unread = Q(messages__sender=Message.Sender.SHOPPER, messages__id__gt=F("agent_seen_message_id"))
    qs = Conversation.objects.select_related("user", "assigned_agent").annotate(
        n_messages=Count("messages"), unread=Count("messages", filter=unread)
    )
    if status:
        qs = qs.filter(status=status)
    if agent is not None:
        qs = qs.filter(assigned_agent=agent)
    return qs.order_by("-updated_at")[:limit]


def unread_counts() -> dict[str, int]:
    """Per status: conversations with shopper messages no agent has seen yet."""
    rows = (
        Conversation.objects.filter(
            messages__sender=Message.Sender.SHOPPER, messages__id__gt=F("agent_seen_message_id")
        )
        .values("status")
        .annotate(n=Count("id", distinct=True))
    )
    counts = dict.fromkeys(Conversation.Status.values, 0)
    counts.update({r["status"]: r["n"] for r in rows})
    return counts


def conversations_for_owner(*, user, session_key: str, limit: int = 20) -> list[dict]:
    """The shopper's own conversations (account, or anonymous session), newest first, for the history list."""
    if user is not None and user.is_authenticated:
        qs = Conversation.objects.filter(user=user)
    elif session_key:
        qs = Conversation.objects.filter(user__isnull=True, session_key=session_key)
    else:
        return []
    rows = list(qs.order_by("-id")[:limit])
    last_texts: dict[int, str] = {}
    for m in (
        Message.objects.filter(conversation__in=rows)
        .exclude(sender=Message.Sender.NOTE)
        .filter(sender=Message.Sender.SHOPPER)
        .order_by("conversation_id", "-id")
        .values("conversation_id", "text")
    ):
        last_texts.setdefault(m["conversation_id"], m["text"][:80])
    return [
        {
            "id": c.pk,
            "status": c.status,
            "language": c.language,
            "csat": c.csat,
            "created_at": c.created_at.isoformat(),
            "updated_at": c.updated_at.isoformat(),
            "preview": last_texts.get(c.pk, ""),
        }
        for c in rows
    ]


def _has_cjk(text: str) -> bool:
    from .dialogue import _CJK_CHAR

    return bool(_CJK_CHAR.search(text or ""))


def conversation_summary_text(*, conversation: Conversation) -> str:
    """For the agent: language (by the shopper's messages), intents, every order and return discussed,
    and the last message. Built from the whole conversation, not its last few messages."""
    messages = list(conversation.messages.exclude(sender=Message.Sender.NOTE).order_by("id"))
    shopper = [m for m in messages if m.sender == Message.Sender.SHOPPER]
    zh = sum(1 for m in shopper if _has_cjk(m.text))
    en = sum(1 for m in shopper if not _has_cjk(m.text) and any(ch.isalpha() for ch in m.text))
    language = ("zh" if zh > en else "en") if (zh or en) else conversation.language
    orders: list[str] = []
    returns: list[str] = []
    for m in messages:
        data = m.data or {}
        for number in [*data.get("entities", {}).get("order_numbers", []), data.get("order", "")]:
            if number and number not in orders:
                orders.append(number)
        if data.get("return") and f"#{data['return']}" not in returns:
            returns.append(f"#{data['return']}")
    # Dialogue steps ("confirm:...", "give_items") are answers, not what the shopper wanted.
    intents = list(
        dict.fromkeys(
            m.intent for m in shopper if m.intent and ":" not in m.intent and not m.intent.startswith("give_")
        )
    )
    name = LANGUAGE_NAMES.get(language, language)
    lines = [f"Language: {name} ({zh} of {len(shopper)} shopper messages in Chinese)."]
    if intents:
        lines.append("Intents: " + ", ".join(intents[-8:]) + ".")
    if orders:
        lines.append("Orders discussed: " + ", ".join(orders) + ".")
    if returns:
        lines.append("Return requests: " + ", ".join(returns) + ".")
    if shopper:
        lines.append("Last message: " + shopper[-1].text[:200])
    return " ".join(lines)


def queue_counts() -> dict[str, int]:
    rows = Conversation.objects.values("status").annotate(n=Count("id"))
    counts = dict.fromkeys(Conversation.Status.values, 0)
    counts.update({r["status"]: r["n"] for r in rows})
    return counts


# What an agent needs beside the chat: views and searches tell what the shopper was after;
# impressions and page views are noise there.
CONTEXT_EVENT_TYPES = (Event.Type.PRODUCT_VIEW, Event.Type.SEARCH, Event.Type.ADD_TO_CART)


def shopper_context(*, conversation: Conversation, orders: int = 5, events: int = 10) -> dict:
    """The sidebar: the shopper's orders, cart, recent views and searches, returns and past
    conversations (this shopper's only: by account, or for a guest by the chat's session)."""
    user_id = conversation.user_id
    if user_id is None:
        session_key = conversation.session_key
        order_rows: list[Order] = []
        event_rows = Event.objects.filter(session_key=session_key) if session_key else Event.objects.none()
        cart = Cart.objects.filter(session_key=session_key).first() if session_key else None
        returns: list[ReturnRequest] = []
        past = (
            Conversation.objects.filter(user__isnull=True, session_key=session_key)
            if session_key
            else Conversation.objects.none()
        )
    else:
        order_rows = list(
            Order.objects.filter(user_id=user_id).prefetch_related("items").order_by("-placed_at")[:orders]
        )
        event_rows = Event.objects.filter(user_id=user_id)
        cart = Cart.objects.filter(user_id=user_id).first()
        returns = list(
            ReturnRequest.objects.filter(order__user_id=user_id)
            .select_related("order")
            .prefetch_related("lines__item")
            .order_by("-created_at", "-id")[:5]
        )
        past = Conversation.objects.filter(user_id=user_id)
    recent = []
    seen = set()
    for e in (
        event_rows.filter(type__in=CONTEXT_EVENT_TYPES).select_related("product").order_by("-occurred_at")[: events * 3]
    ):
        key = (e.type, e.product_id, e.query)
        if key in seen:
            continue  # the same product viewed five times is one line
        seen.add(key)
        recent.append(
            {
                "type": e.type,
                "occurred_at": e.occurred_at.isoformat(),
                "product": e.product.title if e.product_id else "",
                "query": e.query,
            }
        )
        if len(recent) >= events:
            break
    cart_items = list(cart.items.select_related("product").order_by("pk")) if cart else []
    return {
        "orders": [
            {
                "number": o.number,
                "status": o.status,
                "placed_at": o.placed_at.isoformat(),
                "items": sum(max(i.quantity, 0) for i in o.items.all()),
                "total": str(o.total()),
                "currency": o.currency,
            }
            for o in order_rows
        ],
        "cart": [
            {"product": i.product.title, "quantity": i.quantity, "price": str(i.product.price)} for i in cart_items
        ],
        "events": recent,
        "returns": [
            {
                "id": r.pk,
                "order": r.order.number,
                "status": r.status,
                "reason": r.reason,
                "created_at": r.created_at.isoformat(),
                "lines": [f"{line.quantity} × {line.item.title}" for line in r.lines.all()],
            }
            for r in returns
        ],
        "conversations": [
            {"id": c.pk, "status": c.status, "created_at": c.created_at.isoformat(), "csat": c.csat}
            for c in past.exclude(pk=conversation.pk).order_by("-id")[:5]
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
    response = (
        Conversation.objects.filter(first_agent_reply_at__isnull=False, handed_off_at__isnull=False)
        .annotate(wait=F("first_agent_reply_at") - F("handed_off_at"))
        .aggregate(avg=Avg("wait"))["avg"]
    )
    csat = Conversation.objects.filter(csat__isnull=False).aggregate(avg=Avg("csat"), n=Count("id"))
    return SupportMetrics(
        conversations=total,
        contained=total - handed,
        handed_off=handed,
        containment_rate=round((total - handed) / total, 4) if total else None,
        handoff_rate=round(handed / total, 4) if total else None,
        avg_first_response_seconds=round(response.total_seconds(), 1) if response is not None else None,
        csat_average=round(float(csat["avg"]), 2) if csat["avg"] is not None else None,
        csat_count=csat["n"],
    )

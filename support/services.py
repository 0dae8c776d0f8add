"""Support writes: conversations, the bot's turn, handoff, agent work, CSAT, corrections, privacy."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connections, router, transaction
from django.db.models import Count, Q
from django.utils import timezone

from ecommerce.errors import Conflict, DomainError, NotFound, PermissionDenied
from ecommerce.model_rows import ModelRows
from ecommerce.models import User
from ecommerce.roles import HANDLE_CONVERSATIONS, user_can

from . import engine
from .conf import agent_max_active, auto_assign
from .dialogue import Dialogue, Turn, conversation_language
from .models import MESSAGE_MAX_CHARS, Conversation, Handoff, IntentCorrection, Message
from .nlu.data import ALL_INTENTS

logger = logging.getLogger(__name__)
PERMISSION = HANDLE_CONVERSATIONS
# A resolved, unrated conversation greets a returning shopper with its CSAT prompt for this long.
CSAT_PROMPT_DAYS = 7


def _clean_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise DomainError("Write a message first.")
    if len(text) > MESSAGE_MAX_CHARS:
        raise DomainError(f"Messages are limited to {MESSAGE_MAX_CHARS} characters.")
    return text


def _owned(user: User | None) -> bool:
    return bool(user is not None and user.is_authenticated)


_CONVERSATION_ROWS = ModelRows(Conversation)


def conversation_get_for_owner(
    *,
    conversation_id: int,
    user: User | None,
    session_key: str,
    for_update: bool = False,
    with_texts_stamp: bool = False,
    using: str | None = None,
) -> Conversation:
    """The conversation only if the caller owns it (their account, or their anonymous session).

    `with_texts_stamp`: the FAQ/policy stamp (engine.texts_stamp_sql) comes back in the same
    query as `conversation.texts_stamp`, for the bot's turn. `for_update`: the row is locked
    (inside the caller's transaction) where the database can lock rows. `using`: the database
    to read (default: the router's choice; the primary when locking).

    One SELECT written here rather than a QuerySet: every chat message reads this row, and
    compiling the QuerySet was most of the read's cost (ecommerce/model_rows.py)."""
    if not _owned(user) and not session_key:
        raise NotFound("Conversation not found.")
    alias = using or (router.db_for_write(Conversation) if for_update else router.db_for_read(Conversation))
    connection = connections[alias]
    conversation_id = int(conversation_id)
    low, high = connection.ops.integer_field_range(Conversation._meta.pk.get_internal_type())
    if (low is not None and conversation_id < low) or (high is not None and conversation_id > high):
        raise NotFound("Conversation not found.")  # no row has it (SQLite would refuse the number)
    qn = connection.ops.quote_name
    column = {name: qn(Conversation._meta.get_field(name).column) for name in ("id", "user", "session_key")}
    sql = [f"SELECT {_CONVERSATION_ROWS.select_list(alias)}"]
    params: list[Any] = []
    if with_texts_stamp:
        stamp_sql, stamp_params = engine.texts_stamp_sql()
        sql.append(f", {stamp_sql}")
        params += stamp_params
    sql.append(f" FROM {qn(Conversation._meta.db_table)} WHERE {column['id']} = %s AND ")
    params.append(conversation_id)
    if _owned(user):
        sql.append(f"{column['user']} = %s")
        params.append(user.pk)
    else:
        sql.append(f"{column['user']} IS NULL AND {column['session_key']} = %s")
        params.append(session_key)
    if for_update and connection.features.has_select_for_update:
        sql.append(" FOR UPDATE")
    with connection.cursor() as cursor:
        cursor.execute("".join(sql), params)
        row = cursor.fetchone()
    if row is None:
        raise NotFound("Conversation not found.")
    conversation, extra = _CONVERSATION_ROWS.instance(alias, row)
    if with_texts_stamp:
        conversation.texts_stamp = extra[0]
    if _owned(user):
        conversation.user = user  # the same row: the reply path needs no second read of it
    return conversation


@transaction.atomic
def conversation_start(*, user: User | None, session_key: str, language: str = "en") -> Conversation:
    """Resume the caller's open conversation, or the last resolved one still waiting for a rating
    (so the shopper coming back sees the agent's replies and the CSAT prompt), or start a new one."""
    if not _owned(user) and not session_key:
        raise DomainError("A session is needed to chat.")
    owner = Q(user=user) if _owned(user) else Q(user__isnull=True, session_key=session_key)
    latest = Conversation.objects.filter(owner).order_by("-id").first()
    if latest is not None and latest.status != Conversation.Status.RESOLVED:
        return latest
    if (
        latest is not None
        and latest.csat is None
        and latest.resolved_at is not None
        and latest.resolved_at > timezone.now() - timedelta(days=CSAT_PROMPT_DAYS)
    ):
        return latest
    conversation = Conversation.objects.create(
        user=user if _owned(user) else None,
        session_key="" if _owned(user) else session_key,
        language=language if language in ("en", "zh") else "en",
    )
    logger.info("support.conversation_started", extra={"conversation_id": conversation.pk})
    return conversation


def _turn_messages(conv: Conversation, text: str, turn: Turn) -> list[Message]:
    return [
        Message(
            conversation=conv,
            sender=Message.Sender.SHOPPER,
            text=text,
            intent=turn.intent[:64],
            confidence=turn.confidence,
            data={"entities": turn.entities},
        ),
        Message(conversation=conv, sender=Message.Sender.BOT, text=turn.reply[:MESSAGE_MAX_CHARS], data=turn.data),
    ]


def shopper_message_post(
    *, conversation_id: int, user: User | None, session_key: str, text: str
) -> tuple[Conversation, list[Message]]:
    """Store the shopper's message and, while the bot has the conversation, the bot's reply.

    Someone else's conversation answers NotFound exactly like a missing one. Returns the updated
    conversation with the new messages (so callers need no re-read).

    On PostgreSQL a bot turn that cannot change an order (no confirmation pending) is optimistic:
    one read (owner check + the FAQ/policy stamp), the decision, then one statement that updates
    the conversation only if nobody changed it since the read and inserts both messages only if
    it did. A concurrent change (another message, an agent taking over) makes the turn start over
    from a fresh read, so turns still apply one after the other as under a lock. Anything else
    (SQLite, an agent's conversation, a pending confirmation, too many collisions) takes the row
    lock (SELECT ... FOR UPDATE with the owner filter) for the whole turn.
    """
    text = _clean_text(text)
    alias = router.db_for_write(Message)
    if connections[alias].vendor == "postgresql":
        for _ in range(OPTIMISTIC_TURN_ATTEMPTS):
            done = _bot_turn_optimistic(
                conversation_id=conversation_id, user=user, session_key=session_key, text=text, alias=alias
            )
            if done is not None:
                return done
    return _shopper_message_post_locked(conversation_id=conversation_id, user=user, session_key=session_key, text=text)


# A turn re-decided this many times because the conversation changed under it takes the lock.
OPTIMISTIC_TURN_ATTEMPTS = 3


def _bot_turn_optimistic(
    *, conversation_id: int, user: User | None, session_key: str, text: str, alias: str
) -> tuple[Conversation, list[Message]] | None:
    """One optimistic bot turn (see shopper_message_post); None: not applicable or lost a race."""
    conv = conversation_get_for_owner(
        conversation_id=conversation_id, user=user, session_key=session_key, with_texts_stamp=True, using=alias
    )
    read_status, read_updated_at = conv.status, conv.updated_at
    if conv.status == Conversation.Status.RESOLVED:
        conv.status, conv.state, conv.assigned_agent = Conversation.Status.BOT, {}, None
    if conv.status != Conversation.Status.BOT:
        return None
    state = dict(conv.state or {})
    if (state.get("pending") or {}).get("awaiting") == "confirm":
        return None  # the answer may cancel or change an order: under the row lock
    conv.language = conversation_language(text, conv.language)
    dialogue = Dialogue(state=state, shopper_user=conv.user, session_key=conv.session_key, texts_stamp=conv.texts_stamp)
    turn = dialogue.respond(text, language=conv.language)
    conv.state = dialogue.state
    messages = _turn_messages(conv, text, turn)
    if not turn.handoff_reason:
        if not _turn_write_if_unchanged(conv, messages, read_status, read_updated_at, alias):
            return None
        return conv, messages
    with transaction.atomic(using=alias):
        if not _turn_write_if_unchanged(conv, messages, read_status, read_updated_at, alias):
            return None
        conversation_handoff(conversation=conv, reason=turn.handoff_reason)
    conv.refresh_from_db()
    return conv, messages


def _turn_write_if_unchanged(
    conv: Conversation, messages: list[Message], read_status: str, read_updated_at: Any, alias: str
) -> bool:
    """Update the conversation (language, status, state, agent) if its status and last change are
    still those read, and insert `messages` in the same statement only if it was; one round trip,
    atomic on its own. Fills in the messages' ids. False: it changed meanwhile, nothing written."""
    connection = connections[alias]
    qn = connection.ops.quote_name
    conv.updated_at = timezone.now()
    state_field, data_field = Conversation._meta.get_field("state"), Message._meta.get_field("data")
    values, params = [], []
    for order, message in enumerate(messages):
        values.append("(%s, %s, %s, %s, CAST(%s AS double precision), CAST(%s AS jsonb), CAST(%s AS timestamptz))")
        params += [
            order,
            message.sender,
            message.text,
            message.intent,
            message.confidence,
            data_field.get_db_prep_save(message.data, connection),
            message.created_at,
        ]
    columns = ["conversation_id", "sender", "author_id", "text", "intent", "confidence", "data", "created_at"]
    sql = (
        f"WITH turn AS (UPDATE {qn(Conversation._meta.db_table)} SET "  # noqa: S608 - names from the models
        f"{qn('language')} = %s, {qn('status')} = %s, {qn('state')} = %s, {qn('assigned_agent_id')} = %s, "
        f"{qn('updated_at')} = %s WHERE {qn('id')} = %s AND {qn('status')} = %s AND {qn('updated_at')} = %s "
        f"RETURNING {qn('id')}) "
        f"INSERT INTO {qn(Message._meta.db_table)} ({', '.join(qn(c) for c in columns)}) "
        "SELECT turn.id, m.sender, NULL, m.text, m.intent, m.confidence, m.data, m.created_at "
        f"FROM turn CROSS JOIN (VALUES {', '.join(values)}) AS m(ord, sender, text, intent, confidence, data, "
        f"created_at) ORDER BY m.ord RETURNING {qn('id')}, {qn('sender')}"
    )
    head = [
        conv.language,
        conv.status,
        state_field.get_db_prep_save(conv.state, connection),
        conv.assigned_agent_id,
        conv.updated_at,
        conv.pk,
        read_status,
        read_updated_at,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, head + params)
        rows = cursor.fetchall()
    if not rows:
        return False
    ids = {sender: pk for pk, sender in rows}
    for message in messages:
        message.pk = ids[message.sender]
        message._state.adding, message._state.db = False, alias
    return True


def _shopper_message_post_locked(
    *, conversation_id: int, user: User | None, session_key: str, text: str
) -> tuple[Conversation, list[Message]]:
    """The turn under the conversation's row lock: the owner check and the lock are one read."""
    with transaction.atomic():
        conv = conversation_get_for_owner(
            conversation_id=conversation_id, user=user, session_key=session_key, for_update=True
        )
        if conv.status == Conversation.Status.RESOLVED:
            # A new question after resolution reopens with the bot (and a fresh dialogue state).
            conv.status, conv.state, conv.assigned_agent = Conversation.Status.BOT, {}, None
        # The conversation keeps its language unless the whole message is in the other one.
        conv.language = conversation_language(text, conv.language)
        if conv.status != Conversation.Status.BOT:
            conv.save()
            # a human has it (or it waits for one): the bot stays quiet
            return conv, [Message.objects.create(conversation=conv, sender=Message.Sender.SHOPPER, text=text)]
        dialogue = Dialogue(state=dict(conv.state or {}), shopper_user=conv.user, session_key=conv.session_key)
        turn = dialogue.respond(text, language=conv.language)
        # One INSERT for both messages (ids come back in order on PostgreSQL and SQLite).
        created = Message.objects.bulk_create(_turn_messages(conv, text, turn))
        conv.state = dialogue.state
        conv.save()
        if turn.handoff_reason:
            conversation_handoff(conversation=conv, reason=turn.handoff_reason)
            conv.refresh_from_db()
    return conv, created


def conversation_summary(conversation: Conversation) -> str:
    """A few lines for the agent (see selectors.conversation_summary_text)."""
    from .selectors import conversation_summary_text

    return conversation_summary_text(conversation=conversation)


@transaction.atomic
def conversation_handoff(*, conversation: Conversation, reason: str, summary: str = "") -> Handoff:
    conv = Conversation.objects.select_for_update().get(pk=conversation.pk)
    if reason not in Handoff.Reason.values:
        raise DomainError("Unknown handoff reason.")
    summary = summary or conversation_summary(conv)
    if conv.status in (Conversation.Status.BOT, Conversation.Status.RESOLVED):
        conv.status = Conversation.Status.WAITING
        conv.assigned_agent = None
    conv.handed_off_at = conv.handed_off_at or timezone.now()
    conv.summary = f"[{reason}] {summary}"[:2000]
    conv.state = {k: v for k, v in (conv.state or {}).items() if k != "pending"}
    conv.save()
    handoff = Handoff.objects.create(conversation=conv, reason=reason, summary=summary[:2000])
    logger.info("support.handoff", extra={"conversation_id": conv.pk, "reason": reason})
    if auto_assign():
        conversation_assign_round_robin(conversation=conv)
    return handoff


def agents_queryset():
    """Active staff who hold the support permission (directly, by group, or as superusers)."""
    perm = Permission.objects.filter(codename="handle_conversations", content_type__app_label="support").first()
    return (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .filter(Q(is_superuser=True) | Q(user_permissions=perm) | Q(groups__permissions=perm))
        .distinct()
        .order_by("id")
    )


@transaction.atomic
def conversation_mark_seen(*, conversation_id: int, agent: User, message_id: int) -> Conversation:
    """The agent has read up to `message_id`: later shopper messages count as unread in the queue."""
    conv = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
    if conv is None:
        raise NotFound("Conversation not found.")
    last = conv.messages.filter(id__lte=message_id).order_by("-id").values_list("id", flat=True).first() or 0
    if last > conv.agent_seen_message_id:
        conv.agent_seen_message_id = last
        # No updated_at bump: reading is not activity, the queue order must not move.
        Conversation.objects.filter(pk=conv.pk).update(agent_seen_message_id=last)
    return conv


def is_agent(user: User | None) -> bool:
    """An employee (staff) holding support.handle_conversations; staff alone is not enough."""
    return bool(user_can(user, PERMISSION) and user.is_staff)


def _active_load(agent_ids: list[int]) -> dict[int, int]:
    rows = (
        Conversation.objects.filter(status=Conversation.Status.ASSIGNED, assigned_agent_id__in=agent_ids)
        .values("assigned_agent_id")
        .annotate(n=Count("id"))
    )
    return {r["assigned_agent_id"]: r["n"] for r in rows}


@transaction.atomic
def conversation_assign_round_robin(*, conversation: Conversation) -> User | None:
    """Give a waiting conversation to the agent after the last one assigned, skipping full agents."""
    conv = Conversation.objects.select_for_update().get(pk=conversation.pk)
    if conv.status != Conversation.Status.WAITING:
        return conv.assigned_agent
    agents = list(agents_queryset())
    if not agents:
        return None
    load = _active_load([a.pk for a in agents])
    last = (
        Handoff.objects.filter(assigned_by_round_robin=True, agent__isnull=False)
        .order_by("-assigned_at", "-id")
        .values_list("agent_id", flat=True)
        .first()
    )
    ids = [a.pk for a in agents]
    start = (ids.index(last) + 1) if last in ids else 0
    for offset in range(len(agents)):
        agent = agents[(start + offset) % len(agents)]
        if load.get(agent.pk, 0) < agent_max_active():
            _assign(conv, agent, round_robin=True)
            return agent
    return None  # everyone is at the limit: it stays in the waiting queue


def _assign(conv: Conversation, agent: User, *, round_robin: bool) -> None:
    conv.status = Conversation.Status.ASSIGNED
    conv.assigned_agent = agent
    conv.save(update_fields=["status", "assigned_agent", "updated_at"])
    handoff = conv.handoffs.filter(agent__isnull=True).order_by("-id").first()
    if handoff is None:
        handoff = Handoff.objects.create(conversation=conv, reason=Handoff.Reason.ASKED, summary=conv.summary)
    handoff.agent, handoff.assigned_at, handoff.assigned_by_round_robin = agent, timezone.now(), round_robin
    handoff.save(update_fields=["agent", "assigned_at", "assigned_by_round_robin"])
    logger.info("support.assigned", extra={"conversation_id": conv.pk, "agent_id": agent.pk})


@transaction.atomic
def conversation_claim(*, conversation_id: int, agent: User) -> Conversation:
    conv = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
    if conv is None:
        raise NotFound("Conversation not found.")
    if conv.status == Conversation.Status.ASSIGNED and conv.assigned_agent_id == agent.pk:
        return conv
    if conv.status == Conversation.Status.ASSIGNED:
        raise Conflict("Another agent already has this conversation.")
    if conv.status == Conversation.Status.RESOLVED:
        raise Conflict("This conversation is resolved.")
    if _active_load([agent.pk]).get(agent.pk, 0) >= agent_max_active():
        raise Conflict(f"You already have {agent_max_active()} open conversations.")
    if conv.handed_off_at is None:  # taken over from the bot directly
        conv.handed_off_at = timezone.now()
    _assign(conv, agent, round_robin=False)
    return conv


@transaction.atomic
def conversation_assign(*, conversation_id: int, agent_id: int | None) -> Conversation:
    conv = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
    if conv is None:
        raise NotFound("Conversation not found.")
    if agent_id is None:
        if conv.status != Conversation.Status.WAITING:
            raise Conflict("Only waiting conversations are assigned round-robin.")
        if conversation_assign_round_robin(conversation=conv) is None:
            raise Conflict("Every agent is at their limit of open conversations.")
        conv.refresh_from_db()
        return conv
    agent = agents_queryset().filter(pk=agent_id).first()
    if agent is None:
        raise DomainError("That user is not a support agent.")
    if conv.status == Conversation.Status.RESOLVED:
        raise Conflict("This conversation is resolved.")
    _assign(conv, agent, round_robin=False)
    return conv


def _agent_conversation(conversation_id: int, agent: User) -> Conversation:
    conv = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
    if conv is None:
        raise NotFound("Conversation not found.")
    if (
        conv.status == Conversation.Status.ASSIGNED
        and conv.assigned_agent_id not in (None, agent.pk)
        and not agent.is_superuser
    ):
        raise PermissionDenied("This conversation is assigned to another agent.")
    return conv


@transaction.atomic
def agent_reply(*, conversation_id: int, agent: User, text: str) -> Message:
    text = _clean_text(text)
    conv = _agent_conversation(conversation_id, agent)
    if conv.status in (Conversation.Status.BOT, Conversation.Status.WAITING):
        conv.handed_off_at = conv.handed_off_at or timezone.now()
        _assign(conv, agent, round_robin=False)  # replying takes the conversation: the bot stops
    if conv.status == Conversation.Status.RESOLVED:
        raise Conflict("This conversation is resolved.")
    if conv.first_agent_reply_at is None:
        conv.first_agent_reply_at = timezone.now()
        conv.save(update_fields=["first_agent_reply_at", "updated_at"])
    return Message.objects.create(conversation=conv, sender=Message.Sender.AGENT, author=agent, text=text)


@transaction.atomic
def agent_note(*, conversation_id: int, agent: User, text: str) -> Message:
    text = _clean_text(text)
    conv = _agent_conversation(conversation_id, agent)
    return Message.objects.create(conversation=conv, sender=Message.Sender.NOTE, author=agent, text=text)


@transaction.atomic
def conversation_resolve(*, conversation_id: int, agent: User) -> Conversation:
    conv = _agent_conversation(conversation_id, agent)
    if conv.status == Conversation.Status.RESOLVED:
        return conv
    conv.status = Conversation.Status.RESOLVED
    conv.resolved_at = timezone.now()
    conv.state = {}
    conv.save(update_fields=["status", "resolved_at", "state", "updated_at"])
    logger.info("support.resolved", extra={"conversation_id": conv.pk})
    return conv


@transaction.atomic
def csat_submit(*, conversation: Conversation, score: int) -> Conversation:
    if not 1 <= int(score) <= 5:
        raise DomainError("Rate from 1 to 5.")
    conv = Conversation.objects.select_for_update().get(pk=conversation.pk)
    if conv.status != Conversation.Status.RESOLVED:
        raise Conflict("You can rate the conversation once it is resolved.")
    conv.csat = int(score)
    conv.save(update_fields=["csat", "updated_at"])
    return conv


@transaction.atomic
def intent_correct(*, message_id: int, agent: User, intent: str) -> IntentCorrection:
    if intent not in ALL_INTENTS:
        raise DomainError(f"Unknown intent {intent!r}.")
    message = Message.objects.filter(pk=message_id, sender=Message.Sender.SHOPPER).first()
    if message is None:
        raise NotFound("Shopper message not found.")
    correction, _ = IntentCorrection.objects.update_or_create(
        message=message, defaults={"intent": intent, "corrected_by": agent, "created_at": timezone.now()}
    )
    return correction


# -- privacy (registered with ecommerce.plugins) ---------------------------------------------------


def _conversations_of(user: User, subject: Any) -> Any:
    """The shopper's chats: their own and any left in a pre-login session of theirs."""
    session_keys = sorted(getattr(subject, "session_keys", ()) or ())
    pre_login = Q(user__isnull=True, session_key__in=session_keys) if session_keys else Q(pk__in=[])
    return Conversation.objects.filter(Q(user=user) | pre_login)


def conversations_erase_for(user: User, *, subject: Any = None) -> dict[str, int]:
    """Delete the user's conversations and messages (agents' corrections go with the messages)."""
    conversations = _conversations_of(user, subject)
    counts = {
        "conversations": conversations.count(),
        "messages": Message.objects.filter(conversation__in=conversations.values("pk")).count(),
    }
    conversations.delete()
    return counts


def conversations_export_for(user: User, *, subject: Any = None) -> list[dict[str, Any]]:
    return [
        {
            "id": c.pk,
            "status": c.status,
            "language": c.language,
            "created_at": c.created_at.isoformat(),
            "csat": c.csat,
            "summary": c.summary,
            "messages": [
                {"sender": m.sender, "text": m.text, "created_at": m.created_at.isoformat()}
                for m in c.messages.exclude(sender=Message.Sender.NOTE).order_by("id")
            ],
        }
        for c in _conversations_of(user, subject).prefetch_related("messages").order_by("id")
    ]


def conversation_claim_at_login(*, user: User, previous_session_key: str) -> int:
    """Login step: the chat of the session that just signed in now belongs to the account.

    The shopper keeps talking in the same conversation after login (the session key changes at
    login, so it would otherwise be lost), and export and erasure find it through the account.
    Only that session's conversations without an owner: nobody else's.
    """
    if not previous_session_key or not _owned(user):
        return 0
    claimed = Conversation.objects.filter(user__isnull=True, session_key=previous_session_key).update(
        user=user, session_key=""
    )
    if claimed:
        logger.info("support.conversation_claimed", extra={"user_id": user.pk, "conversations": claimed})
    return claimed


@transaction.atomic
def rasa_conversation_handoff(*, shopper, text: str) -> Conversation:
    """A Rasa assistant hands its user to our agents: one queue for both bots."""
    owner = Q(user=shopper.user) if shopper.is_authenticated else Q(user__isnull=True, session_key=shopper.session_key)
    conversation = (
        Conversation.objects.filter(owner).exclude(status=Conversation.Status.RESOLVED).order_by("-id").first()
    )
    if conversation is None:
        conversation = Conversation.objects.create(
            user=shopper.user if shopper.is_authenticated else None,
            session_key="" if shopper.is_authenticated else shopper.session_key,
            language=shopper.language,
        )
    if text.strip():
        Message.objects.create(
            conversation=conversation,
            sender=Message.Sender.SHOPPER,
            text=text.strip()[:MESSAGE_MAX_CHARS],
            intent="contact_human_agent",
        )
    conversation_handoff(conversation=conversation, reason="rasa")
    conversation.refresh_from_db()
    return conversation

"""Support APIs: the shopper chat (session or account owned) and the agent console endpoints."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ecommerce.api.authentication import CsrfEnforcedSessionAuthentication
from ecommerce.api.throttling import CounterScopedRateThrottle
from ecommerce.auth_backends import user_cache_key
from ecommerce.cache_batch import cache_batch
from ecommerce.privacy import session_key_ensure
from ecommerce.sessions import SessionStore as HintedSessionStore
from ecommerce.sessions import session_user_hint

from . import selectors, services
from .models import MESSAGE_MAX_CHARS, CannedResponse, Conversation, Message
from .nlu.data import ALL_INTENTS


class SessionScopedRateThrottle(CounterScopedRateThrottle):
    """The same scope's rate, counted per session too (ScopedRateThrottle counts per user or IP)."""

    def get_cache_key(self, request, view):
        session_key = getattr(getattr(request, "session", None), "session_key", None)
        if not session_key:
            return None
        return self.cache_format % {"scope": f"{self.scope}-session", "ident": session_key}

    @classmethod
    def expected_session_counter(cls, session_key: str, scope: str) -> tuple[str, int] | None:
        """(counter key, expiry) this throttle will count the request against, for cache_batch."""
        rate = cls.THROTTLE_RATES.get(scope)
        if rate is None or not session_key:
            return None
        throttle = cls()
        throttle.scope = scope
        throttle.num_requests, throttle.duration = throttle.parse_rate(rate)
        throttle.now = throttle.timer()
        key = throttle._window_key(throttle.cache_format % {"scope": f"{scope}-session", "ident": session_key})
        return key, throttle.expiry


class IsSupportAgent(permissions.BasePermission):
    message = "Support agents only."

    def has_permission(self, request, view) -> bool:
        return services.is_agent(request.user)


def display_name(user) -> str:
    """What a shopper sees of an agent: their first name, else the username."""
    if user is None:
        return ""
    return (user.first_name or "").strip() or user.get_username()


class MessageOut(serializers.ModelSerializer):
    author_name = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = ["id", "sender", "text", "created_at", "data", "author_name"]

    def get_author_name(self, message: Message) -> str:
        return display_name(message.author) if message.sender == Message.Sender.AGENT else ""


_DATETIME_OUT = serializers.DateTimeField(read_only=True)


def message_out(message: Message) -> dict:
    """MessageOut(message).data without building a ModelSerializer per reply (the chat's hot
    path; tests/support/test_chat_budget.py holds them equal)."""
    return {
        "id": message.pk,
        "sender": str(message.sender),
        "text": message.text,
        "created_at": _DATETIME_OUT.to_representation(message.created_at),
        "data": message.data,
        "author_name": display_name(message.author) if message.sender == Message.Sender.AGENT else "",
    }


def conversation_out(conversation: Conversation) -> dict:
    """ConversationOut(conversation).data, as message_out is MessageOut's."""
    return {
        "id": conversation.pk,
        "status": str(conversation.status),
        "language": conversation.language,
        "csat": None if conversation.csat is None else int(conversation.csat),
        "created_at": _DATETIME_OUT.to_representation(conversation.created_at),
    }


class AgentMessageOut(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", default="")
    author_name = serializers.SerializerMethodField()
    corrected_intent = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = [
            "id",
            "sender",
            "text",
            "created_at",
            "data",
            "intent",
            "confidence",
            "author",
            "author_name",
            "corrected_intent",
        ]

    def get_author_name(self, message: Message) -> str:
        return display_name(message.author) if message.author_id else ""

    def get_corrected_intent(self, message: Message) -> str:
        correction = getattr(message, "correction", None) if hasattr(message, "correction") else None
        return correction.intent if correction else ""


class ConversationOut(serializers.ModelSerializer):
    class Meta:
        model = Conversation
        fields = ["id", "status", "language", "csat", "created_at"]


class AgentConversationOut(serializers.ModelSerializer):
    shopper = serializers.SerializerMethodField()
    assigned_agent = serializers.CharField(source="assigned_agent.username", default="")
    n_messages = serializers.IntegerField(read_only=True, default=0)
    unread = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Conversation
        fields = [
            "id",
            "status",
            "language",
            "summary",
            "csat",
            "created_at",
            "updated_at",
            "assigned_agent",
            "shopper",
            "n_messages",
            "unread",
            "handed_off_at",
        ]

    def get_shopper(self, conversation: Conversation) -> str:
        return conversation.user.username if conversation.user_id else "guest"


class TextIn(serializers.Serializer):
    text = serializers.CharField(max_length=MESSAGE_MAX_CHARS, trim_whitespace=True)


class AfterIn(serializers.Serializer):
    after = serializers.IntegerField(min_value=0, required=False, default=0)


class ShopperChatApi(APIView):
    authentication_classes = [CsrfEnforcedSessionAuthentication]
    permission_classes = [AllowAny]
    throttle_classes = [CounterScopedRateThrottle, SessionScopedRateThrottle]
    throttle_scope = "chat"

    def dispatch(self, request, *args, **kwargs):
        """The session, the user row and both rate-limit counters in one cache round trip (they
        were four per chat message; ecommerce/cache_batch.py). Only when the session key names
        its user (ecommerce/sessions.py); anything else reads them one by one as before."""
        session = getattr(request, "session", None)
        user_id = session_user_hint(session.session_key) if isinstance(session, HintedSessionStore) else None
        if user_id is None:
            return super().dispatch(request, *args, **kwargs)
        counters = [
            CounterScopedRateThrottle.expected_counter(request, self.throttle_scope, str(user_id)),
            SessionScopedRateThrottle.expected_session_counter(session.session_key, self.throttle_scope),
        ]
        with cache_batch(
            keys=[session.cache_key, user_cache_key(user_id)], counters=[c for c in counters if c is not None]
        ):
            return super().dispatch(request, *args, **kwargs)

    def conversation(self, request, conversation_id: int) -> Conversation:
        return services.conversation_get_for_owner(
            conversation_id=conversation_id, user=request.user, session_key=request.session.session_key or ""
        )


def _history(request) -> list[dict]:
    return selectors.conversations_for_owner(user=request.user, session_key=request.session.session_key or "")


class ConversationStartApi(ShopperChatApi):
    @extend_schema(responses=OpenApiTypes.OBJECT, summary="The shopper's own conversations (history list)")
    def get(self, request):
        return Response({"conversations": _history(request)})

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT, summary="Start or resume the shopper's conversation")
    def post(self, request):
        language = str(request.data.get("language", "en"))[:8] if hasattr(request.data, "get") else "en"
        conversation = services.conversation_start(
            user=request.user, session_key=session_key_ensure(request), language=language
        )
        messages = selectors.messages_after(conversation=conversation)
        return Response(
            {
                **ConversationOut(conversation).data,
                "messages": MessageOut(messages, many=True).data,
                "history": _history(request),
            },
            status=status.HTTP_200_OK,
        )


class ConversationMessagesApi(ShopperChatApi):
    @extend_schema(parameters=[AfterIn], responses=OpenApiTypes.OBJECT, summary="Messages after a cursor")
    def get(self, request, conversation_id: int):
        params = AfterIn(data=request.query_params)
        params.is_valid(raise_exception=True)
        conversation = self.conversation(request, conversation_id)
        messages = list(selectors.messages_after(conversation=conversation, after_id=params.validated_data["after"]))
        cursor = messages[-1].id if messages else params.validated_data["after"]
        return Response(
            {**ConversationOut(conversation).data, "cursor": cursor, "messages": MessageOut(messages, many=True).data}
        )

    @extend_schema(
        request=TextIn, responses={201: OpenApiTypes.OBJECT}, summary="Send a message; returns the bot's reply"
    )
    def post(self, request, conversation_id: int):
        body = TextIn(data=request.data)
        body.is_valid(raise_exception=True)
        conversation, created = services.shopper_message_post(
            conversation_id=conversation_id,
            user=request.user,
            session_key=request.session.session_key or "",
            text=body.validated_data["text"],
        )
        return Response(
            {
                **conversation_out(conversation),
                "cursor": created[-1].id,
                "messages": [message_out(m) for m in created],
            },
            status=status.HTTP_201_CREATED,
        )


class CsatIn(serializers.Serializer):
    score = serializers.IntegerField(min_value=1, max_value=5)


class ConversationCsatApi(ShopperChatApi):
    @extend_schema(request=CsatIn, responses=ConversationOut)
    def post(self, request, conversation_id: int):
        body = CsatIn(data=request.data)
        body.is_valid(raise_exception=True)
        conversation = self.conversation(request, conversation_id)
        conversation = services.csat_submit(conversation=conversation, score=body.validated_data["score"])
        return Response(ConversationOut(conversation).data)


# --- agents ---------------------------------------------------------------------------------------


class AgentApi(APIView):
    permission_classes = [IsSupportAgent]
    throttle_scope = "agent"


class QueueIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=Conversation.Status.values, required=False, allow_blank=True)
    mine = serializers.BooleanField(required=False, default=False)


class AgentQueueApi(AgentApi):
    @extend_schema(parameters=[QueueIn], responses=OpenApiTypes.OBJECT, operation_id="support_agent_queue")
    def get(self, request):
        params = QueueIn(data=request.query_params)
        params.is_valid(raise_exception=True)
        rows = selectors.queue_list(
            status=params.validated_data.get("status", ""),
            agent=request.user if params.validated_data["mine"] else None,
        )
        return Response(
            {
                "counts": selectors.queue_counts(),
                "unread": selectors.unread_counts(),
                "conversations": AgentConversationOut(rows, many=True).data,
            }
        )


class AgentConversationApi(AgentApi):
    @extend_schema(parameters=[AfterIn], responses=OpenApiTypes.OBJECT, operation_id="support_agent_conversation")
    def get(self, request, conversation_id: int):
        params = AfterIn(data=request.query_params)
        params.is_valid(raise_exception=True)
        conversation = Conversation.objects.select_related("user", "assigned_agent").filter(pk=conversation_id).first()
        if conversation is None:
            return Response({"detail": "Conversation not found."}, status=status.HTTP_404_NOT_FOUND)
        messages = list(
            selectors.messages_after(
                conversation=conversation, after_id=params.validated_data["after"], include_notes=True
            ).select_related("correction")
        )
        data = AgentConversationOut(conversation).data
        if not params.validated_data["after"]:
            # The stored summary is from the handoff; the agent sees one built from the whole chat now.
            data["summary_live"] = selectors.conversation_summary_text(conversation=conversation)
        return Response(
            {
                "conversation": data,
                "messages": AgentMessageOut(messages, many=True).data,
                "cursor": messages[-1].id if messages else params.validated_data["after"],
                "context": selectors.shopper_context(conversation=conversation)
                if not params.validated_data["after"]
                else None,
            }
        )


class SeenIn(serializers.Serializer):
    message_id = serializers.IntegerField(min_value=0)


class AgentSeenApi(AgentApi):
    @extend_schema(request=SeenIn, responses=OpenApiTypes.OBJECT)
    def post(self, request, conversation_id: int):
        body = SeenIn(data=request.data)
        body.is_valid(raise_exception=True)
        conversation = services.conversation_mark_seen(
            conversation_id=conversation_id, agent=request.user, message_id=body.validated_data["message_id"]
        )
        return Response({"id": conversation.pk, "seen": conversation.agent_seen_message_id})


class AgentClaimApi(AgentApi):
    @extend_schema(request=None, responses=AgentConversationOut)
    def post(self, request, conversation_id: int):
        conversation = services.conversation_claim(conversation_id=conversation_id, agent=request.user)
        return Response(AgentConversationOut(conversation).data)


class AssignIn(serializers.Serializer):
    agent_id = serializers.IntegerField(required=False, allow_null=True, default=None)


class AgentAssignApi(AgentApi):
    @extend_schema(request=AssignIn, responses=AgentConversationOut)
    def post(self, request, conversation_id: int):
        body = AssignIn(data=request.data)
        body.is_valid(raise_exception=True)
        conversation = services.conversation_assign(
            conversation_id=conversation_id, agent_id=body.validated_data["agent_id"]
        )
        return Response(AgentConversationOut(conversation).data)


class AgentReplyApi(AgentApi):
    @extend_schema(request=TextIn, responses={201: AgentMessageOut})
    def post(self, request, conversation_id: int):
        body = TextIn(data=request.data)
        body.is_valid(raise_exception=True)
        message = services.agent_reply(
            conversation_id=conversation_id, agent=request.user, text=body.validated_data["text"]
        )
        return Response(AgentMessageOut(message).data, status=status.HTTP_201_CREATED)


class AgentNoteApi(AgentApi):
    @extend_schema(request=TextIn, responses={201: AgentMessageOut})
    def post(self, request, conversation_id: int):
        body = TextIn(data=request.data)
        body.is_valid(raise_exception=True)
        message = services.agent_note(
            conversation_id=conversation_id, agent=request.user, text=body.validated_data["text"]
        )
        return Response(AgentMessageOut(message).data, status=status.HTTP_201_CREATED)


class AgentResolveApi(AgentApi):
    @extend_schema(request=None, responses=AgentConversationOut)
    def post(self, request, conversation_id: int):
        conversation = services.conversation_resolve(conversation_id=conversation_id, agent=request.user)
        return Response(AgentConversationOut(conversation).data)


class IntentIn(serializers.Serializer):
    intent = serializers.ChoiceField(choices=list(ALL_INTENTS))


class AgentCorrectIntentApi(AgentApi):
    @extend_schema(request=IntentIn, responses=OpenApiTypes.OBJECT)
    def post(self, request, message_id: int):
        body = IntentIn(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            correction = services.intent_correct(
                message_id=message_id, agent=request.user, intent=body.validated_data["intent"]
            )
        return Response({"message": correction.message_id, "intent": correction.intent})


class AgentCannedApi(AgentApi):
    @extend_schema(
        responses=inline_serializer(
            "CannedReply",
            {
                "id": serializers.IntegerField(),
                "title": serializers.CharField(),
                "text": serializers.CharField(),
                "text_zh": serializers.CharField(),
            },
            many=True,
        )
    )
    def get(self, request):
        return Response(
            [
                {"id": c.pk, "title": c.title, "text": c.text, "text_zh": c.text_zh}
                for c in CannedResponse.objects.order_by("title")
            ]
        )


class AgentIntentsApi(AgentApi):
    @extend_schema(responses={200: {"type": "array", "items": {"type": "string"}}})
    def get(self, request):
        return Response(list(ALL_INTENTS))

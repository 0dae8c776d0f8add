"""Support desk: conversations between a shopper, the bot and human agents, plus merchant content."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

MESSAGE_MAX_CHARS = 1000


class Conversation(models.Model):
    class Status(models.TextChoices):
        BOT = "bot", "With the bot"
        WAITING = "waiting", "Waiting for an agent"
        ASSIGNED = "assigned", "With an agent"
        RESOLVED = "resolved", "Resolved"

    # Owner: a signed-in shopper or, before login, the session. Never found by id alone.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="support_conversations"
    )
    session_key = models.CharField(max_length=64, blank=True, default="", db_index=True)
    language = models.CharField(max_length=8, default="en")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BOT, db_index=True)
    assigned_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="support_assignments"
    )
    summary = models.TextField(blank=True, default="")
    # Dialogue state: pending confirmation, slots being filled, orders verified by number + email.
    state = models.JSONField(default=dict, blank=True)
    csat = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    handed_off_at = models.DateTimeField(null=True, blank=True)
    first_agent_reply_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The last message id an agent has looked at: shopper messages after it are "unread".
    agent_seen_message_id = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-updated_at"]
        permissions = [
            ("handle_conversations", "Can handle support conversations (agent console)"),
            ("view_support_metrics", "Can see the support metrics page"),
        ]
        indexes = [models.Index(fields=["status", "updated_at"])]

    def __str__(self) -> str:
        return f"Conversation {self.pk} ({self.status})"


class Message(models.Model):
    class Sender(models.TextChoices):
        SHOPPER = "shopper"
        BOT = "bot"
        AGENT = "agent"
        NOTE = "note", "Private note"  # agents only: never sent to the shopper

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    sender = models.CharField(max_length=16, choices=Sender.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField(max_length=MESSAGE_MAX_CHARS)
    intent = models.CharField(max_length=64, blank=True, default="")
    confidence = models.FloatField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)  # e.g. suggested products for the chat UI
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["conversation", "id"])]

    def __str__(self) -> str:
        return f"{self.sender}: {self.text[:40]}"


class Handoff(models.Model):
    """One hand-over to the human queue, and who picked it up."""

    class Reason(models.TextChoices):
        ASKED = "asked", "Shopper asked for a human"
        LOW_CONFIDENCE = "low_confidence", "Bot did not understand twice"
        OUT_OF_SCOPE = "out_of_scope", "Repeatedly out of scope"
        COMPLAINT = "complaint", "Angry complaint"
        ACTION_FAILED = "action_failed", "The bot could not complete an action"
        RASA = "rasa", "Requested by a Rasa assistant"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="handoffs")
    reason = models.CharField(max_length=32, choices=Reason.choices)
    summary = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    assigned_by_round_robin = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"Handoff {self.pk} of conversation {self.conversation_id} ({self.reason})"


class IntentCorrection(models.Model):
    """An agent's label for a shopper message the bot got wrong: training data for the retrain."""

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="correction")
    intent = models.CharField(max_length=64)
    corrected_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Message {self.message_id} relabelled {self.intent}"


class FAQEntry(models.Model):
    question = models.CharField(max_length=300)
    question_zh = models.CharField(max_length=300, blank=True, default="")
    answer = models.TextField()
    answer_zh = models.TextField(blank=True, default="")
    language = models.CharField(max_length=8, default="en", help_text="Language of the question.")
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "FAQ entry"
        verbose_name_plural = "FAQ entries"

    def __str__(self) -> str:
        return self.question


class CannedResponse(models.Model):
    title = models.CharField(max_length=120, unique=True)
    text = models.TextField(max_length=MESSAGE_MAX_CHARS)
    text_zh = models.TextField(max_length=MESSAGE_MAX_CHARS, blank=True, default="")

    def __str__(self) -> str:
        return self.title


class PolicyText(models.Model):
    class Key(models.TextChoices):
        RETURNS = "returns"
        SHIPPING = "shipping"
        PAYMENT = "payment"
        REFUNDS = "refunds"
        CANCELLATION = "cancellation"
        ACCOUNT = "account"
        CONTACT = "contact"

    key = models.CharField(max_length=32, choices=Key.choices, unique=True)
    text = models.TextField()
    text_zh = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "policy texts"

    def __str__(self) -> str:
        return self.key

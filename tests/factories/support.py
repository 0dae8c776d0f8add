"""Factories for the support app."""

from __future__ import annotations

import factory

from support.models import CannedResponse, Conversation, FAQEntry, Message, PolicyText
from tests.factories import UserFactory


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    user = factory.SubFactory(UserFactory)
    language = "en"


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    sender = Message.Sender.SHOPPER
    text = factory.Sequence(lambda n: f"message {n}")


class FAQEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FAQEntry

    question = "Do you offer gift wrapping?"
    question_zh = "你们提供礼品包装吗？"
    answer = "Yes, gift wrapping is £2.50 per order."
    answer_zh = "提供，每单 2.50 英镑。"


class CannedResponseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CannedResponse

    title = factory.Sequence(lambda n: f"Canned {n}")
    text = "Is there anything else I can help with?"


class PolicyTextFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PolicyText
        django_get_or_create = ("key",)

    key = PolicyText.Key.SHIPPING
    text = "We deliver in 3-5 working days."
    text_zh = "3-5 个工作日送达。"

"""The bot's actions exposed to a Rasa assistant through rasa_sdk: one code path with the chat bot.

Who is the shopper? Rasa only sends a `sender_id`. The shop treats it as:
- a signed shopper token made by `rasa_sender_token(user)` (django.core.signing, salt
  "support.rasa", valid SUPPORT_RASA_TOKEN_MAX_AGE seconds): the merchant's channel connector puts
  it in sender_id for signed-in shoppers; the actions then act as that user;
- anything else: an anonymous shopper, who must provide BOTH the `order_number` and the `email`
  slot. The order services check them, and another person's order answers like a missing one.
A plain user id or username in sender_id is never trusted.

Slots read: order_number, email, address, confirmed (bool), max_price, product_query.
"""

from __future__ import annotations

import abc
import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import close_old_connections, connection
from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from . import actions
from .actions import Shopper
from .conf import rasa_token_max_age
from .nlu.entities import extract_order_numbers
from .nlu.text import detect_language
from .replies import render

logger = logging.getLogger(__name__)
SALT = "support.rasa"
TOKEN_PREFIX = "shop:"  # noqa: S105 - marks signed sender ids; the secret is the signature


def rasa_sender_token(user) -> str:
    return TOKEN_PREFIX + signing.TimestampSigner(salt=SALT).sign(str(user.pk))


def user_for_sender(sender_id: str):
    if not sender_id or not sender_id.startswith(TOKEN_PREFIX):
        return None
    try:
        user_id = signing.TimestampSigner(salt=SALT).unsign(
            sender_id[len(TOKEN_PREFIX) :], max_age=rasa_token_max_age()
        )
    except signing.BadSignature:
        logger.info("support.rasa_bad_sender_token")
        return None
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


def shopper_from_tracker(tracker: Tracker) -> Shopper:
    text = (tracker.latest_message or {}).get("text") or ""
    user = user_for_sender(tracker.sender_id or "")
    return Shopper(
        user=user,
        email="" if user else (tracker.get_slot("email") or "").strip().lower(),
        session_key=f"rasa:{tracker.sender_id}"[:64],
        language=detect_language(text),
    )


def _order_number(tracker: Tracker) -> str:
    slot = tracker.get_slot("order_number")
    if slot:
        return str(slot).strip().lstrip("#").upper()
    found = extract_order_numbers((tracker.latest_message or {}).get("text") or "")
    return found[0] if found else ""


class ShopAction(Action, abc.ABC):
    """Runs the synchronous Django code in a worker thread and closes stale DB connections."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        return await sync_to_async(self._run_in_django, thread_sensitive=True)(dispatcher, tracker, domain)

    def _run_in_django(self, dispatcher, tracker, domain):
        # Like Django's request_started: drop connections past CONN_MAX_AGE or broken. Never inside
        # an atomic block (a caller's transaction, e.g. a test's) whose connection is still needed.
        if not connection.in_atomic_block:
            close_old_connections()
        return self.run_sync(dispatcher, tracker, domain)

    @abc.abstractmethod
    def run_sync(self, dispatcher, tracker, domain) -> list[dict[str, Any]]:
        """The action itself, synchronous, with Django's ORM available."""


class OrderAction(ShopAction):
    def order_slots(self, dispatcher, tracker) -> tuple[Shopper, str] | None:
        shopper = shopper_from_tracker(tracker)
        number = _order_number(tracker)
        if not number:
            dispatcher.utter_message(
                text=render(
                    "ask_order_number" if shopper.is_authenticated else "ask_number_and_email", shopper.language
                )
            )
            return None
        if actions.needs_email(shopper):
            dispatcher.utter_message(text=render("ask_email", shopper.language, number=number))
            return None
        return shopper, number


class ActionOrderStatus(OrderAction):
    def name(self) -> str:
        return "action_order_status"

    def run_sync(self, dispatcher, tracker, domain):
        slots = self.order_slots(dispatcher, tracker)
        if slots is None:
            return []
        result = actions.order_status(*slots)
        dispatcher.utter_message(text=result.reply)
        return [SlotSet("order_status", result.data.get("status"))] if result.ok else []


class ActionCancelOrder(OrderAction):
    def name(self) -> str:
        return "action_cancel_order"

    def run_sync(self, dispatcher, tracker, domain):
        slots = self.order_slots(dispatcher, tracker)
        if slots is None:
            return []
        if tracker.get_slot("confirmed") is not True:
            # Nothing changes without an explicit yes: ask, and let the assistant set `confirmed`.
            result = actions.cancel_check(*slots)
            dispatcher.utter_message(text=result.reply)
            return [SlotSet("confirmed", None)]
        result = actions.cancel_order(*slots)
        dispatcher.utter_message(text=result.reply)
        events = [SlotSet("confirmed", None)]
        if result.ok:
            events.append(SlotSet("order_status", result.data.get("status")))
        return events


class ActionReturnRequest(OrderAction):
    def name(self) -> str:
        return "action_return_request"

    def run_sync(self, dispatcher, tracker, domain):
        slots = self.order_slots(dispatcher, tracker)
        if slots is None:
            return []
        if tracker.get_slot("confirmed") is not True:
            result = actions.return_check_all(*slots)
            dispatcher.utter_message(text=result.reply)
            return [SlotSet("confirmed", None)]
        result = actions.return_request(*slots)
        dispatcher.utter_message(text=result.reply)
        events = [SlotSet("confirmed", None)]
        if result.ok:
            events.append(SlotSet("order_status", result.data.get("status")))
        return events


class ActionRecommendProducts(ShopAction):
    def name(self) -> str:
        return "action_recommend_products"

    def run_sync(self, dispatcher, tracker, domain):
        shopper = shopper_from_tracker(tracker)
        text = tracker.get_slot("product_query") or (tracker.latest_message or {}).get("text") or ""
        max_price = None
        if tracker.get_slot("max_price") not in (None, ""):
            try:
                max_price = Decimal(str(tracker.get_slot("max_price")))
            except InvalidOperation:
                max_price = None
        else:
            from .nlu.entities import extract_amounts

            maxima = [a.value for a in extract_amounts(text) if a.is_maximum]
            max_price = min(maxima) if maxima else None
        result = actions.product_suggestions(shopper, text, max_price=max_price)
        dispatcher.utter_message(text=result.reply, json_message=result.data or None)
        return [SlotSet("suggested_product_ids", [p["id"] for p in result.data.get("products", [])])]


class ActionHandoffToHuman(ShopAction):
    def name(self) -> str:
        return "action_handoff_to_human"

    def run_sync(self, dispatcher, tracker, domain):
        from .services import rasa_conversation_handoff

        shopper = shopper_from_tracker(tracker)
        text = (tracker.latest_message or {}).get("text") or ""
        conversation = rasa_conversation_handoff(shopper=shopper, text=text)
        dispatcher.utter_message(text=render("handoff", shopper.language))
        # Pause the Rasa conversation: from now on a human answers, the assistant stays quiet.
        return [SlotSet("support_conversation_id", conversation.pk), ConversationPaused()]


ACTIONS = (ActionOrderStatus, ActionCancelOrder, ActionReturnRequest, ActionRecommendProducts, ActionHandoffToHuman)


def build_executor():
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    for action in ACTIONS:
        executor.register_action(action)
    return executor

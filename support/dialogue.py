"""Dialogue policy: (intent, entities, conversation state) -> action -> reply.

Rules, in order:
1. A pending step is finished first: a yes/no to a confirmation, the order number or email the
   bot asked for, the new address. Anything changing an order is confirmed before it happens.
2. Asking for a human, or an angry complaint, hands the conversation to the agents' queue.
3. Out of scope: answer politely; the second time in a row, hand off.
   Low confidence: ask to rephrase (a matching FAQ answer first, if there is one); the second
   time in a row, hand off.
4. Order intents fill the order-number slot (the shopper's only order, or "which order?" listing
   theirs); anonymous shoppers must also give the order's email before anything is revealed.
5. Information intents answer from the merchant's policy texts and FAQ.
6. A return is a request: which items and how many (never more than bought minus already
   returned), a reason, then a yes/no, then ecommerce.services.orders.return_request_create.

The language belongs to the conversation (`conversation_language`): a bare order number, an email
or "ok" keeps it; only a whole message in the other language switches it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import actions, engine
from .actions import ActionResult, Shopper
from .nlu import OUT_OF_SCOPE
from .nlu.entities import Entities, extract
from .nlu.intents import Prediction
from .nlu.text import detect_language
from .replies import render

ORDER_INTENTS = {
    "track_order",
    "cancel_order",
    "change_shipping_address",
    "get_refund",
    "get_invoice",
    "check_invoice",
    "track_refund",
}
POLICY_INTENTS = {
    "check_refund_policy": "returns",
    "check_cancellation_fee": "cancellation",
    "delivery_options": "shipping",
    "delivery_period": "shipping",
    "check_payment_methods": "payment",
    "payment_issue": "payment",
    "contact_customer_service": "contact",
    "create_account": "account",
    "delete_account": "account",
    "edit_account": "account",
    "recover_password": "account",
    "registration_problems": "account",
    "switch_account": "account",
    "newsletter_subscription": "account",
    "set_up_shipping_address": "account",
    "review": "contact",
}
ANGRY = re.compile(
    r"\b(angry|furious|livid|disgrace(ful)?|ridiculous|unacceptable|useless|rubbish|terrible|awful|worst|"
    r"scam|fraud|pathetic|sue|lawyer|wtf|damn|hopeless)\b|气死|垃圾|太差|骗子|投诉|愤怒|生气",
    re.IGNORECASE,
)
YES = re.compile(
    r"^\s*(y|yes|yep|yeah|yup|ok|okay|sure|confirm|go ahead|do it|please do|是|是的|好|好的|确认|对|可以|嗯)\b",
    re.IGNORECASE,
)
NO = re.compile(
    r"^\s*(n|no|nope|nah|don't|do not|stop|cancel that|never ?mind|否|不|不要|算了|取消操作)\b", re.IGNORECASE
)
MIN_ADDRESS_CHARS = 8
MIN_REASON_CHARS = 3
_CJK_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_NOT_LANGUAGE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\b[A-Za-z]?\d[\w-]*\b")
ALL_ITEMS = re.compile(r"^\s*(all|everything|all of them|全部|所有|都退|全部退)\s*$", re.IGNORECASE)
_ORDER_LIKE = re.compile(r"\b[wW]\d{6}[0-9A-Fa-f]{2,8}\b|\b\d{5,}\b")
_ITEM_CHOICE = re.compile(r"(\d+)\s*(?:[x×*]\s*(\d+))?", re.IGNORECASE)


def conversation_language(text: str, current: str = "en") -> str:
    """The conversation's language after this message: switched only by a whole message in the other.

    Order numbers, emails and digits carry no language; Chinese counts a word per two characters.
    Leaving Chinese takes at least two English words ("ok" or "W2611... yes" stay Chinese).
    """
    words = _NOT_LANGUAGE.sub(" ", text or "")
    zh_words = len(_CJK_CHAR.findall(words)) / 2
    en_words = len(_LATIN_WORD.findall(words))
    if zh_words == 0 and en_words == 0:
        return current if current in ("en", "zh") else "en"
    if current == "zh":
        return "en" if zh_words == 0 and en_words >= 2 else "zh"
    return "zh" if zh_words >= en_words else "en"


@dataclass
class Turn:
    reply: str
    intent: str = ""
    confidence: float | None = None
    handoff_reason: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    entities: dict[str, Any] = field(default_factory=dict)


class Dialogue:
    """One shopper message in, one bot turn out; mutates `state` (the conversation's JSON state)."""

    def __init__(self, *, state: dict[str, Any], shopper_user, session_key: str = "", texts_stamp: str | None = None):
        self.state = state
        self.user = shopper_user
        self.session_key = session_key
        self._texts: engine.SupportTexts | None = None
        self._texts_stamp = texts_stamp  # read with the conversation (engine.texts_stamp_sql), if given

    def texts(self) -> engine.SupportTexts:
        """The FAQ and policy texts, read once per turn (one stamp query unless the caller has it)."""
        if self._texts is None:
            self._texts = engine.support_texts(stamp=self._texts_stamp)
        return self._texts

    # -- helpers ---------------------------------------------------------------------------------
    def shopper(self, language: str) -> Shopper:
        return Shopper(
            user=self.user if self.user is not None and self.user.is_authenticated else None,
            email=self.state.get("email", ""),
            session_key=self.session_key,
            language=language,
        )

    def _reset_strikes(self) -> None:
        self.state["low_confidence"] = 0
        self.state["out_of_scope"] = 0

    def _handoff(self, reason: str, language: str, *, complaint: bool = False) -> Turn:
        self.state.pop("pending", None)
        return Turn(render("handoff_complaint" if complaint else "handoff", language), handoff_reason=reason)

    # -- entry point -----------------------------------------------------------------------------
    def respond(self, text: str, language: str | None = None) -> Turn:
        """`language` is the conversation's (see conversation_language); detected when not given."""
        language = language if language in ("en", "zh") else detect_language(text)
        entities = extract(text, products=engine.product_matcher())
        if entities.email and not (self.user is not None and self.user.is_authenticated):
            self.state["email"] = entities.email  # remembered only for this conversation
        pending = self.state.get("pending")
        if pending:
            turn = self._continue_pending(pending, text, entities, language)
            if turn is not None:
                turn.entities = entities.as_dict()
                return turn
        prediction = engine.intent_model().predict_one(text)
        turn = self._route(prediction, text, entities, language)
        turn.intent = turn.intent or prediction.intent
        turn.confidence = prediction.confidence if turn.confidence is None else turn.confidence
        turn.entities = entities.as_dict()
        return turn

    # -- pending steps ---------------------------------------------------------------------------
    def _continue_pending(self, pending: dict, text: str, entities: Entities, language: str) -> Turn | None:
        awaiting = pending.get("awaiting")
        action = pending.get("action", "")
        shopper = self.shopper(language)
        if awaiting == "confirm":
            if YES.search(text):
                self.state.pop("pending", None)
                result = self._execute(action, shopper, pending)
                return Turn(result.reply, intent=f"confirm:{action}", confidence=1.0, data=result.data)
            if NO.search(text):
                self.state.pop("pending", None)
                return Turn(render("not_confirmed", language), intent=f"deny:{action}", confidence=1.0)
            self.state.pop("pending", None)
            return None  # something else: treat as a new request
        if awaiting == "address":
            address = text.strip()
            if len(address) < MIN_ADDRESS_CHARS or entities.order_number:
                self.state.pop("pending", None)
                return None
            pending.update(awaiting="confirm", address=address[:500])
            return Turn(
                render("confirm_address", language, number=pending["number"], address=address[:500]),
                intent="give_address",
                confidence=1.0,
            )
        if awaiting == "return_items":
            return self._return_items(pending, text, language)
        if awaiting == "return_reason":
            reason = text.strip()
            if len(reason) < MIN_REASON_CHARS or entities.order_number:
                self.state.pop("pending", None)
                return None
            pending.update(awaiting="confirm", reason=reason[:500])
            return Turn(
                render(
                    "confirm_return_request",
                    language,
                    number=pending["number"],
                    items=actions.describe_return_lines(pending, language),
                    reason=reason[:500],
                ),
                intent="give_reason",
                confidence=1.0,
            )
        if awaiting in ("order_number", "email"):
            # Continue only if the message gives what was asked for; anything else is a new request.
            gave_number = bool(entities.order_number)
            gave_email = bool(entities.email) and not shopper.is_authenticated
            if not (gave_number or gave_email):
                self.state.pop("pending", None)
                return None
            pending["number"] = entities.order_number or pending.get("number", "")
            return self._run_order_intent(action, shopper, pending, language)
        self.state.pop("pending", None)
        return None

    # -- routing ---------------------------------------------------------------------------------
    def _route(self, prediction: Prediction, text: str, entities: Entities, language: str) -> Turn:
        intent = prediction.intent
        if intent == "contact_human_agent":
            return self._handoff("asked", language)
        if intent == "complaint" or ANGRY.search(text):
            return self._handoff("complaint", language, complaint=True)
        if intent == OUT_OF_SCOPE:
            return self._fallback(prediction, text, language)
        self._reset_strikes()
        shopper = self.shopper(language)
        if intent in ("greeting", "thanks", "goodbye"):
            return Turn(render(intent, language))
        if intent == "product_search":
            result = actions.product_suggestions(
                shopper, text, max_price=entities.max_price, product_ids=entities.product_ids
            )
            return Turn(result.reply, data=result.data)
        if intent in ORDER_INTENTS:
            pending = {"action": intent, "number": entities.order_number, "awaiting": "order_number"}
            if intent == "track_refund" and not entities.order_number and not shopper.is_authenticated:
                return Turn(actions.refund_info(shopper).reply)
            return self._run_order_intent(intent, shopper, pending, language)
        if intent == "change_order":
            return Turn(render("change_order", language))
        if intent == "place_order":
            return Turn(render("place_order", language))
        if intent in POLICY_INTENTS:
            faq = self._faq_answer(text, language, min_score=0.45)
            return Turn(faq or self.texts().policy(POLICY_INTENTS[intent], language))
        faq = self._faq_answer(text, language)
        return Turn(faq or render("rephrase", language))

    def _fallback(self, prediction: Prediction, text: str, language: str) -> Turn:
        if prediction.best_intent == OUT_OF_SCOPE:
            # Confidently off-topic: answer politely, hand off if it happens again in a row.
            self.state["out_of_scope"] = self.state.get("out_of_scope", 0) + 1
            if self.state["out_of_scope"] >= 2:
                return self._handoff("out_of_scope", language)
            return Turn(render("out_of_scope", language))
        faq = self._faq_answer(text, language)
        if faq:
            self._reset_strikes()
            return Turn(faq, intent="faq")
        self.state["low_confidence"] = self.state.get("low_confidence", 0) + 1
        if self.state["low_confidence"] >= 2:
            return self._handoff("low_confidence", language)
        return Turn(render("rephrase", language))

    def _faq_answer(self, text: str, language: str, min_score: float | None = None) -> str:
        texts = self.texts()
        index, entries = texts.index, texts.entries
        hits = index.search(text, k=1, min_score=min_score)
        if not hits:
            return ""
        entry = entries[hits[0].entry_id]
        return entry.answer_zh if language == "zh" and entry.answer_zh else entry.answer

    # -- order intents with slot filling ----------------------------------------------------------
    def _run_order_intent(self, intent: str, shopper: Shopper, pending: dict, language: str) -> Turn:
        number = pending.get("number", "")
        if not number:
            open_only = intent in ("cancel_order", "change_shipping_address")
            choices = actions.orders_to_choose_from(shopper, open_only=open_only)
            if shopper.is_authenticated and len(choices) == 1:
                number = choices[0]
            elif shopper.is_authenticated and choices:
                self.state["pending"] = {**pending, "awaiting": "order_number"}
                return Turn(render("ask_order_choice", language, numbers=", ".join(choices)), data={"choices": choices})
            elif shopper.is_authenticated:
                self.state.pop("pending", None)
                return Turn(render("no_orders", language))
            else:
                self.state["pending"] = {**pending, "awaiting": "order_number"}
                return Turn(render("ask_number_and_email", language))
        if actions.needs_email(shopper):
            self.state["pending"] = {**pending, "number": number, "awaiting": "email"}
            return Turn(render("ask_email", language, number=number))
        pending = {**pending, "number": number}
        if intent == "track_order":
            self.state.pop("pending", None)
            result = actions.order_status(shopper, number)
        elif intent == "cancel_order":
            result = actions.cancel_check(shopper, number)
            return self._maybe_confirm(result, pending, "cancel_order")
        elif intent == "change_shipping_address":
            result = actions.change_address_check(shopper, number)
            if result.ok:
                self.state["pending"] = {**pending, "action": "change_shipping_address", "awaiting": "address"}
            else:
                self.state.pop("pending", None)
            return Turn(result.reply, data=result.data)
        elif intent == "get_refund":
            result = actions.return_check(shopper, number)
            if not result.ok:
                self.state.pop("pending", None)
                if result.code == "not_allowed":
                    return Turn(result.reply + " " + actions.refund_info(shopper, number).reply, data=result.data)
                return Turn(result.reply, data=result.data)
            items = result.data["items"]
            pending = {**pending, "action": "get_refund", "items": items}
            if len(items) == 1 and items[0]["max"] == 1:  # nothing to choose: straight to the reason
                self.state["pending"] = {**pending, "lines": {str(items[0]["id"]): 1}, "awaiting": "return_reason"}
                return Turn(
                    render(
                        "ask_return_reason",
                        language,
                        number=number,
                        items=actions.describe_return_lines(self.state["pending"], language),
                    ),
                    data={"order": number},
                )
            self.state["pending"] = {**pending, "awaiting": "return_items"}
            return Turn(result.reply, data={"order": number})
        elif intent == "track_refund":
            self.state.pop("pending", None)
            result = actions.refund_info(shopper, number)
        else:  # get_invoice / check_invoice
            self.state.pop("pending", None)
            result = actions.invoice(shopper, number)
        return Turn(result.reply, data=result.data)

    def _return_items(self, pending: dict, text: str, language: str) -> Turn | None:
        """Which items and how many: "all", "2", "1 x3, 2" (item 1 three times, item 2 once)."""
        items = pending.get("items") or []
        if ALL_ITEMS.search(text):
            lines = {str(i["id"]): i["max"] for i in items}
        else:
            choices = _ITEM_CHOICE.findall(_ORDER_LIKE.sub(" ", text))
            if not choices or len(text.strip()) > 60:
                self.state.pop("pending", None)
                return None  # not an answer to "which items?": a new request
            lines = {}
            for index_text, quantity_text in choices:
                index = int(index_text)
                quantity = int(quantity_text) if quantity_text else 1
                if not 1 <= index <= len(items):
                    return Turn(
                        render("return_item_unknown", language, index=index, n=len(items)),
                        intent="give_items",
                        confidence=1.0,
                    )
                item = items[index - 1]
                total = lines.get(str(item["id"]), 0) + quantity
                if quantity < 1 or total > item["max"]:
                    return Turn(
                        render("return_too_many", language, title=item["title"], max=item["max"]),
                        intent="give_items",
                        confidence=1.0,
                    )
                lines[str(item["id"])] = total
        pending.update(lines=lines, awaiting="return_reason")
        return Turn(
            render(
                "ask_return_reason",
                language,
                number=pending["number"],
                items=actions.describe_return_lines(pending, language),
            ),
            intent="give_items",
            confidence=1.0,
        )

    def _maybe_confirm(self, result: ActionResult, pending: dict, action: str) -> Turn:
        if result.ok and result.code == "confirm":
            self.state["pending"] = {**pending, "action": action, "awaiting": "confirm"}
        else:
            self.state.pop("pending", None)
        return Turn(result.reply, data=result.data)

    def _execute(self, action: str, shopper: Shopper, pending: dict) -> ActionResult:
        number = pending.get("number", "")
        if action == "cancel_order":
            return actions.cancel_order(shopper, number)
        if action == "change_shipping_address":
            return actions.change_address(shopper, number, pending.get("address", ""))
        if action == "get_refund":
            lines = {int(k): int(v) for k, v in (pending.get("lines") or {}).items()}
            return actions.return_create(shopper, number, lines=lines, reason=pending.get("reason", ""))
        return ActionResult(render("not_confirmed", shopper.language), ok=False)

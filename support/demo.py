"""Demo data for the support desk: FAQ, canned responses, policy texts and an agent account."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from ecommerce.roles import ROLES, role_groups_sync

from .models import CannedResponse, FAQEntry, PolicyText
from .replies import DEFAULT_POLICIES

FAQ = [
    (
        "Do you offer gift wrapping?",
        "你们提供礼品包装吗？",
        "Yes: tick 'gift wrap' at checkout (£2.50 per order) and add a message; "
        "prices are not shown on the packing slip.",
        "提供：结算时勾选“礼品包装”（每单 2.50 英镑）并可附上留言，装箱单上不显示价格。",
    ),
    (
        "Do you have a physical shop?",
        "你们有实体店吗？",
        "We are online only, but you can collect orders from our London warehouse by appointment.",
        "我们只在网上销售，但可预约到伦敦仓库自提订单。",
    ),
    (
        "Can I buy wholesale or in bulk?",
        "可以批发或大量购买吗？",
        "Yes, many of our customers are retailers: orders of 12 or more of an item get wholesale prices automatically.",
        "可以，同一商品购买 12 件及以上自动享受批发价。",
    ),
    (
        "Are your products handmade?",
        "你们的商品是手工制作的吗？",
        "Some are: the product page says so. Most are designed by us and made by trusted suppliers.",
        "部分是，商品页面会注明。大部分商品由我们设计、由可靠的供应商生产。",
    ),
    (
        "Do you sell gift cards?",
        "你们卖礼品卡吗？",
        "Yes, e-gift cards from £10 to £200, valid for 12 months.",
        "有，电子礼品卡面值 10 至 200 英镑，有效期 12 个月。",
    ),
]
CANNED = [
    (
        "Greeting",
        "Hi, I'm {name} from the support team. I'm looking at your conversation now.",
        "您好，我是客服 {name}，正在查看您的问题。",
    ),
    (
        "Refund on the way",
        "Your refund has been issued; it reaches your card within 5-10 working days.",
        "退款已发出，将在 5-10 个工作日内退回您的银行卡。",
    ),
    (
        "Sorry for the trouble",
        "I'm sorry about the trouble with your order. Let me sort this out for you.",
        "很抱歉您的订单出现问题，我来为您处理。",
    ),
    ("Anything else", "Is there anything else I can help you with today?", "请问还有其他需要帮助的吗？"),
]
AGENT_USERNAME = "agent"


def support_demo_step(*, seed: int, stdout) -> None:
    for question, question_zh, answer, answer_zh in FAQ:
        FAQEntry.objects.update_or_create(
            question=question, defaults={"question_zh": question_zh, "answer": answer, "answer_zh": answer_zh}
        )
    for title, text, text_zh in CANNED:
        CannedResponse.objects.update_or_create(title=title, defaults={"text": text, "text_zh": text_zh})
    for key, texts in DEFAULT_POLICIES.items():
        PolicyText.objects.get_or_create(key=key, defaults={"text": texts["en"], "text_zh": texts["zh"]})
    user_model = get_user_model()
    agent, created = user_model.objects.get_or_create(
        username=AGENT_USERNAME, defaults={"email": "agent@example.com", "is_staff": True}
    )
    if created:
        password = secrets.token_urlsafe(12)
        agent.set_password(password)
        agent.save()
        stdout.write(
            f"Support agent: username '{AGENT_USERNAME}', password '{password}' (console at /support/console/)"
        )
    # The agent's rights come from its role group, like any employee's (ecommerce/roles.py).
    role_groups_sync()
    agent.groups.add(Group.objects.get(name=ROLES["support_agent"].group))
    stdout.write(
        f"Support: {len(FAQ)} FAQ entries, {len(CANNED)} canned responses, {len(DEFAULT_POLICIES)} policy texts."
    )


def support_training_job() -> dict:
    from .training import intent_model_retrain, product_index_build

    summary = intent_model_retrain()
    summary["product_index"] = product_index_build()
    return summary

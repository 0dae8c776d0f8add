"""The support desk in a real browser: a Chinese chat that stays Chinese, per-item returns (bot and
order page, one service), history and CSAT after an agent resolves, and the agent console."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ecommerce.models import Cart, CartItem, Event, Order, ReturnRequest
from ecommerce.services import orders as order_services
from support import services
from support.models import CannedResponse, Conversation, Message
from tests.factories import OrderFactory, OrderItemFactory, ProductFactory, UserFactory
from tests.support.test_browser import login_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WAIT = 15000


@pytest.fixture
def sam(agent):
    agent.first_name = "Sam"
    agent.save(update_fields=["first_name"])
    return agent


def signed_in(browser, user, live_server, width=1280):
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.add_cookies([login_cookie(user, live_server.url)])
    return context


def send(page, text: str) -> None:
    box = page.locator("[data-support-chat-page] [data-chat-input]")
    box.fill(text)
    box.press("Enter")


def last_bot(page, containing: str) -> str:
    locator = page.locator(".chat-bot p", has_text=containing).last
    locator.wait_for(timeout=WAIT)
    return locator.inner_text()


def test_chinese_chat_stays_chinese_through_an_order_number_and_a_canned_reply(
    live_server, browser, screenshot, active_intent_model, user, sam
):
    # given a shopper with two orders and the merchant's bilingual canned replies
    OrderFactory(user=user, number="536365", status=Order.Status.SHIPPED, tracking_number="TRK1")
    OrderFactory(user=user, number="536366", status=Order.Status.PAID)
    CannedResponse.objects.create(
        title="Greeting",
        text="Hi, I'm {name} from the support team.",
        text_zh="您好，我是客服 {name}，正在查看您的问题。",
    )
    shopper_context = signed_in(browser, user, live_server, width=1100)
    agent_context = signed_in(browser, sam, live_server, width=1400)
    try:
        shopper = shopper_context.new_page()
        shopper.goto(f"{live_server.url}/support/chat/")
        shopper.locator("[data-support-chat-page][data-conversation]").wait_for(timeout=WAIT)
        # when the shopper asks in Chinese, then answers with a bare order number
        send(shopper, "我的订单到哪了？")
        assert "536365" in last_bot(shopper, "请问是哪个订单")
        send(shopper, "536365")
        # then the answer, the labels and the conversation stay Chinese
        assert "已发货" in last_bot(shopper, "订单 536365")
        shopper.locator("[data-support-chat-page][data-language=zh]").wait_for(timeout=WAIT)
        labels = shopper.locator(".chat-who").all_inner_texts()
        assert set(labels) == {"我", "助手"}, labels
        send(shopper, "我要人工客服")
        shopper.get_by_text("人工客服将很快在这里回复您。").wait_for(timeout=WAIT)

        # the agent's canned greeting goes out in Chinese, with the agent's name
        console = agent_context.new_page()
        console.goto(f"{live_server.url}/support/console/")
        console.locator(".queue-item").first.click(timeout=WAIT)
        console.locator("[data-console][data-current-language=zh]").wait_for(timeout=WAIT)
        console.get_by_role("button", name="Claim", exact=True).click()
        console.locator("[data-console][data-current-status=assigned]").wait_for(timeout=WAIT)
        console.locator("[data-canned]").select_option(label="Greeting")
        assert console.locator("[data-reply]").input_value() == "您好，我是客服 Sam，正在查看您的问题。"
        console.locator("[data-reply]").press("Control+Enter")  # keyboard shortcut: send
        agent_row = shopper.locator(".chat-agent")
        agent_row.wait_for(timeout=WAIT)
        assert agent_row.locator(".chat-who").inner_text() == "客服 · Sam"
        assert "您好，我是客服 Sam" in agent_row.locator("p").inner_text()
        assert agent_row.locator("time").inner_text()  # every message has its time
        screenshot(shopper, "desk_chat_chinese")
        conversation = Conversation.objects.get()
        assert conversation.language == "zh"
        assert all(m.text.startswith("您好") for m in conversation.messages.filter(sender="agent"))
    finally:
        shopper_context.close()
        agent_context.close()


def test_per_item_return_through_the_bot_and_the_order_page(
    live_server, browser, screenshot, active_intent_model, user, staff
):
    # given a delivered order: three mugs and one plate
    order = OrderFactory(
        user=user, number="536400", status=Order.Status.DELIVERED, delivered_at=timezone.now() - timedelta(days=2)
    )
    mug = OrderItemFactory(
        order=order, product=ProductFactory(title="Enamel mug", stock=0), quantity=3, line_number=1, unit_price="6.00"
    )
    plate = OrderItemFactory(
        order=order,
        product=ProductFactory(title="Stoneware plate", stock=0),
        quantity=1,
        line_number=2,
        unit_price="12.00",
    )
    context = signed_in(browser, user, live_server)
    try:
        page = context.new_page()
        # the bot: which items and how many, a reason, a yes
        page.goto(f"{live_server.url}/support/chat/")
        page.locator("[data-support-chat-page][data-conversation]").wait_for(timeout=WAIT)
        send(page, "I want to return an item")
        listing = last_bot(page, "Which items")
        assert "1. Enamel mug (up to 3)" in listing and "2. Stoneware plate (up to 1)" in listing
        send(page, "1 x4")
        last_bot(page, "at most 3 of Enamel mug")
        send(page, "1 x2")
        last_bot(page, "Why are you returning")
        send(page, "two of them arrived chipped")
        last_bot(page, "yes or no")
        send(page, "yes")
        last_bot(page, "is registered")
        screenshot(page, "desk_return_bot")
        bot_request = ReturnRequest.objects.get()
        assert [(line.item_id, line.quantity) for line in bot_request.lines.all()] == [(mug.pk, 2)]

        # the order page: what is left, quantity validation, the same service
        page.goto(f"{live_server.url}/account/orders/{order.number}/")
        page.locator(f"#qty-{mug.pk}").fill("2")  # only one mug is left to return
        page.locator("#return-reason").fill("changed my mind")
        page.get_by_role("button", name="Request a return").click()
        # the browser already refuses (max=1); a stale or hand-made form gets the server's answer
        assert page.locator(f"#qty-{mug.pk}").evaluate("e => e.checkValidity()") is False
        page.locator("[data-order-return]").evaluate("f => { f.noValidate = true; }")
        page.get_by_role("button", name="Request a return").click()
        page.locator("[data-return-error]", has_text="at most 1 of Enamel mug").wait_for(timeout=WAIT)
        assert ReturnRequest.objects.count() == 1
        page.locator(f"#qty-{mug.pk}").fill("1")
        page.locator(f"#qty-{plate.pk}").fill("1")
        page.locator("#return-reason").fill("changed my mind")
        page.get_by_role("button", name="Request a return").click()
        page.get_by_text("Your return request is registered").wait_for(timeout=WAIT)
        page_request = ReturnRequest.objects.exclude(pk=bot_request.pk).get()
        assert sorted((line.item_id, line.quantity) for line in page_request.lines.all()) == [
            (mug.pk, 1),
            (plate.pk, 1),
        ]
        # everything is in a request now: no return form is offered any more
        assert page.get_by_role("button", name="Request a return").count() == 0

        # the merchant moves the bot's request along: requested -> approved -> received -> refunded
        for move in (
            order_services.return_request_approve,
            order_services.return_request_receive,
            order_services.return_request_refund,
        ):
            move(return_id=bot_request.pk, actor=staff)
        page.reload()
        page.locator(f"[data-return='{bot_request.pk}']", has_text="Refunded").wait_for(timeout=WAIT)
        page.locator(f"[data-return='{page_request.pk}']", has_text="Requested").wait_for(timeout=WAIT)
        screenshot(page, "desk_order_page_returns")
        order.refresh_from_db()
        mug.product.refresh_from_db()
        assert order.status == Order.Status.DELIVERED and mug.product.stock == 2
    finally:
        context.close()


def test_history_agent_name_and_csat_after_resolve(live_server, browser, screenshot, active_intent_model, user, sam):
    # given an earlier, rated conversation and one an agent has just resolved
    old = Conversation.objects.create(
        user=user, status=Conversation.Status.RESOLVED, csat=4, resolved_at=timezone.now() - timedelta(days=20)
    )
    Message.objects.create(conversation=old, sender=Message.Sender.SHOPPER, text="do you sell gift cards?")
    context = signed_in(browser, user, live_server, width=1200)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/support/chat/")
        page.locator("[data-support-chat-page][data-conversation]").wait_for(timeout=WAIT)
        send(page, "can I talk to a human please")
        page.get_by_text("An agent will reply here shortly.").wait_for(timeout=WAIT)
        current = Conversation.objects.exclude(pk=old.pk).get()
        services.agent_reply(conversation_id=current.pk, agent=sam, text="Hi, this is Sam. Your parcel left today.")
        services.conversation_resolve(conversation_id=current.pk, agent=sam)

        # when the shopper comes back to the chat later
        page.goto(f"{live_server.url}/")
        page.goto(f"{live_server.url}/support/chat/")
        # then the conversation is still there: their messages, the agent's reply with a name and time
        agent_row = page.locator(".chat-agent")
        agent_row.wait_for(timeout=WAIT)
        assert agent_row.locator(".chat-who").inner_text() == "Support · Sam"
        assert "Your parcel left today" in agent_row.inner_text()
        assert page.locator(".chat-shopper p").first.inner_text() == "can I talk to a human please"
        assert all(t for t in page.locator(".chat-msg time").all_inner_texts())
        # the CSAT prompt waits for them, and the history lists both conversations
        page.locator("[data-chat-rating]:not([hidden])").wait_for(timeout=WAIT)
        history = page.locator("[data-chat-history] [data-history-id]")
        assert history.count() == 2
        screenshot(page, "desk_chat_history_csat")
        page.get_by_role("button", name="Rate 5 of 5").click()
        page.get_by_text("Thanks for your rating!").wait_for(timeout=WAIT)
        current.refresh_from_db()
        assert current.csat == 5
        # the older conversation opens from the history list
        page.locator(f"[data-history-id='{old.pk}']").click()
        page.locator(".chat-shopper p", has_text="do you sell gift cards?").wait_for(timeout=WAIT)
        page.locator(f"[data-support-chat-page][data-conversation='{old.pk}']").wait_for(timeout=WAIT)
    finally:
        context.close()


def test_console_layout_unread_shortcuts_sidebar_and_summary(live_server, browser, screenshot, sam):
    # given a mostly Chinese conversation about four orders, with cart, views, searches and a return
    shopper = UserFactory(username="lin")
    numbers = ["536501", "536502", "536503", "536504"]
    for number in numbers:
        order = OrderFactory(user=shopper, number=number, status=Order.Status.DELIVERED, delivered_at=timezone.now())
        OrderItemFactory(order=order, product=ProductFactory(title=f"Teapot {number}"), quantity=2)
    first_line = Order.objects.get(number="536501").items.get()
    order_services.return_request_create(number="536501", actor=shopper, lines={first_line.pk: 1}, reason="cracked")
    cart = Cart.objects.create(user=shopper)
    CartItem.objects.create(cart=cart, product=ProductFactory(title="Bamboo whisk"), quantity=2)
    viewed = ProductFactory(title="Jasmine tea tin")
    now = timezone.now()
    Event.objects.create(type=Event.Type.PRODUCT_VIEW, user=shopper, product=viewed, occurred_at=now)
    Event.objects.create(type=Event.Type.SEARCH, user=shopper, query="matcha", occurred_at=now)
    for i in range(10):  # noise an agent does not need
        Event.objects.create(
            type=Event.Type.RECOMMENDATION_IMPRESSION,
            user=shopper,
            product=viewed,
            occurred_at=now + timedelta(seconds=i),
        )
    other = Conversation.objects.create(user=UserFactory(), status=Conversation.Status.WAITING, handed_off_at=now)
    Message.objects.create(conversation=other, sender=Message.Sender.SHOPPER, text="hello?")
    conversation = Conversation.objects.create(
        user=shopper, language="zh", status=Conversation.Status.WAITING, handed_off_at=now
    )
    texts = ["订单536501的茶壶坏了", "还有536502也有问题", "order 536503 too", "536504 我也要退", "请尽快处理"]
    for text in texts:
        numbers_in = [n for n in numbers if n in text]
        Message.objects.create(
            conversation=conversation,
            sender=Message.Sender.SHOPPER,
            text=text,
            data={"entities": {"order_numbers": numbers_in}},
        )
    Conversation.objects.create(
        user=shopper, status=Conversation.Status.RESOLVED, csat=3, resolved_at=now - timedelta(days=30)
    )
    context = signed_in(browser, sam, live_server, width=1440)
    try:
        console = context.new_page()
        console.goto(f"{live_server.url}/support/console/")
        # its own layout: none of the storefront's header, search, cart or consent banner
        assert console.locator(".site-header, #site-search, #consent-banner, [data-support-bubble]").count() == 0
        # unread: two waiting conversations with unread shopper messages
        console.locator("[data-unread=waiting]", has_text="2 unread").wait_for(timeout=WAIT)
        first = console.locator(f".queue-item[data-conversation='{conversation.pk}'] [data-unread-count]")
        assert first.inner_text() == "5"
        # keyboard: j opens the first conversation of the queue (the most recent), k stays at the top
        console.locator("body").press("j")
        console.locator("[data-conv-head]", has_text=f"#{conversation.pk} ").wait_for(timeout=WAIT)
        # the summary names all four orders and the conversation's real language
        summary = console.locator("[data-conv-summary]")
        summary.wait_for(timeout=WAIT)
        for number in numbers:
            assert number in summary.inner_text()
        assert "Language: Chinese" in summary.inner_text()
        # the sidebar: orders, returns, cart, recent views and searches (no impressions), past conversations
        side = console.locator("[data-context]")
        side.get_by_text("536504 · 2 items", exact=False).wait_for(timeout=WAIT)
        side_text = side.inner_text()
        assert "cracked" in side_text and "2 × Bamboo whisk" in side_text
        assert "viewed Jasmine tea tin" in side_text and "searched “matcha”" in side_text
        assert side_text.count("Jasmine tea tin") == 1
        assert "CSAT 3/5" in side_text
        # reading clears its unread count on the server: one waiting conversation is left unread
        console.locator("[data-unread=waiting]", has_text="1 unread").wait_for(timeout=WAIT)
        conversation.refresh_from_db()
        assert conversation.agent_seen_message_id == conversation.messages.order_by("-id").first().pk
        # styled controls (not the browser's default grey buttons)
        claim = console.get_by_role("button", name="Claim", exact=True)
        assert claim.evaluate("b => getComputedStyle(b).borderRadius") == "6px"
        claim.click()
        console.locator("[data-console][data-current-status=assigned]").wait_for(timeout=WAIT)
        console.locator("[data-reply]").fill("我们来处理，请稍等。")
        console.locator("[data-reply]").press("Control+Enter")
        console.locator(".msg-agent").wait_for(timeout=WAIT)
        screenshot(console, "desk_console")
        # Alt+Shift+R resolves
        console.locator("body").press("Alt+Shift+R")
        console.locator("[data-console][data-current-status=resolved]").wait_for(timeout=WAIT)
        conversation.refresh_from_db()
        assert conversation.status == Conversation.Status.RESOLVED
    finally:
        context.close()

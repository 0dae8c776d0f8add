"""End to end in a real browser, two sessions: shopper -> bot -> human -> agent -> resolved -> CSAT."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from support.models import Conversation


def login_cookie(user, live_server_url: str) -> dict:
    client = Client()
    client.force_login(user)
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": live_server_url,
    }


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_shopper_bot_handoff_agent_reply_resolve_and_csat(live_server, browser, screenshot, active_intent_model, agent):
    shopper_context = browser.new_context(viewport={"width": 1100, "height": 900})
    agent_context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        shopper = shopper_context.new_page()
        # The bubble on a storefront page opens the same chat...
        shopper.goto(f"{live_server.url}/")
        shopper.get_by_role("button", name="Chat with us").click()
        bubble_box = shopper.locator("[data-support-panel] [data-chat-input]")
        bubble_box.fill("hello")
        bubble_box.press("Enter")
        shopper.locator("[data-support-panel] .chat-bot").first.wait_for(timeout=15000)
        screenshot(shopper, "support_chat_bubble")
        # ...and the full chat page resumes that conversation.
        shopper.goto(f"{live_server.url}/support/chat/")
        box = shopper.locator("[data-support-chat-page] [data-chat-input]")
        shopper.locator(".chat-bot").first.wait_for(timeout=15000)
        assert "shop assistant" in shopper.locator(".chat-bot").first.inner_text()
        box.fill("<b>can I talk to a human please</b>")
        box.press("Enter")
        shopper.get_by_text("An agent will reply here shortly.").wait_for(timeout=15000)
        assert shopper.locator(".chat-shopper p").last.inner_text() == "<b>can I talk to a human please</b>"

        agent_context.add_cookies([login_cookie(agent, live_server.url)])
        console = agent_context.new_page()
        console.goto(f"{live_server.url}/support/console/")
        console.locator(".queue-item").first.click(timeout=15000)
        console.get_by_role("button", name="Claim", exact=True).click()
        console.locator("[data-console][data-current-status=assigned]").wait_for(timeout=15000)
        console.locator("[data-reply]").fill("Hi, I'm Sam from support. How can I help?")
        console.get_by_role("button", name="Send reply").click()

        # The shopper sees the agent's reply without reloading (polling).
        shopper.locator(".chat-agent").wait_for(timeout=15000)
        assert "Sam from support" in shopper.locator(".chat-agent").inner_text()
        screenshot(console, "support_console_agent")

        console.get_by_role("button", name="Resolve", exact=True).click()
        console.locator("[data-console][data-current-status=resolved]").wait_for(timeout=15000)
        shopper.locator("[data-chat-rating]:not([hidden])").wait_for(timeout=15000)
        screenshot(shopper, "support_chat_shopper_resolved")
        shopper.get_by_role("button", name="Rate 5 of 5").click()
        shopper.get_by_text("Thanks for your rating!").wait_for(timeout=15000)
        screenshot(shopper, "support_chat_shopper_rated")
        conversation = Conversation.objects.get()
        assert conversation.status == "resolved" and conversation.csat == 5 and conversation.assigned_agent == agent
    finally:
        shopper_context.close()
        agent_context.close()

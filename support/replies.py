"""Reply templates in the two languages the bot answers in. Facts are filled in from real rows only."""

from __future__ import annotations

from typing import Any

TEMPLATES: dict[str, dict[str, str]] = {
    "greeting": {
        "en": "Hello! I'm the shop assistant. I can check or cancel an order, change its address, start a return, answer questions about delivery and payment, or suggest products. How can I help?",
        "zh": "您好！我是商店助手，可以帮您查询或取消订单、修改收货地址、申请退货，解答配送和付款问题，也可以推荐商品。请问有什么可以帮您？",
    },
    "thanks": {"en": "You're welcome! Anything else I can help with?", "zh": "不客气！还有其他可以帮您的吗？"},
    "goodbye": {"en": "Goodbye, and thanks for shopping with us!", "zh": "再见，感谢您的光临！"},
    "ask_order_number": {
        "en": "Which order is it about? Please give me the order number.",
        "zh": "请问是哪个订单？请告诉我订单号。",
    },
    "ask_order_choice": {
        "en": "Which order do you mean? Your recent orders: {numbers}.",
        "zh": "请问是哪个订单？您最近的订单：{numbers}。",
    },
    "no_orders": {"en": "I can't find any orders on your account.", "zh": "您的账户下没有找到订单。"},
    "ask_email": {
        "en": "To protect your privacy, please also give me the email address used for order {number}.",
        "zh": "为保护您的隐私，请同时提供订单 {number} 使用的电子邮箱。",
    },
    "ask_number_and_email": {
        "en": "Please give me the order number and the email address you used for the order.",
        "zh": "请提供订单号以及下单时使用的电子邮箱。",
    },
    "order_not_found": {
        "en": "I couldn't find an order with that number for you. Please check the number (and the email address used for the order).",
        "zh": "没有找到属于您的该订单。请核对订单号（以及下单邮箱）。",
    },
    "order_status": {
        "en": "Order {number} ({items} item(s), {total}) placed on {placed}: {status}.{extra}",
        "zh": "订单 {number}（{items} 件商品，{total}），下单日期 {placed}：{status}。{extra}",
    },
    "tracking": {
        "en": " Shipped on {shipped}, tracking number {tracking}.",
        "zh": "已于 {shipped} 发货，运单号 {tracking}。",
    },
    "delivered": {"en": " Delivered on {delivered}.", "zh": "已于 {delivered} 送达。"},
    "confirm_cancel": {
        "en": "Do you want me to cancel order {number} ({items} item(s), {total})? Please reply yes or no.",
        "zh": "确定要取消订单 {number}（{items} 件商品，{total}）吗？请回复“是”或“否”。",
    },
    "cancelled": {
        "en": "Done: order {number} is cancelled. Any payment will be refunded to the original method.",
        "zh": "已完成：订单 {number} 已取消，款项将原路退回。",
    },
    "cannot_cancel": {
        "en": "Order {number} is {status} and can no longer be cancelled. If it has been delivered I can start a return instead.",
        "zh": "订单 {number} 当前状态为{status}，已无法取消。如果已经送达，我可以为您申请退货。",
    },
    "ask_address": {
        "en": "What is the new shipping address for order {number}?",
        "zh": "订单 {number} 的新收货地址是什么？",
    },
    "confirm_address": {
        "en": 'Change the shipping address of order {number} to "{address}"? Please reply yes or no.',
        "zh": "确定将订单 {number} 的收货地址改为“{address}”吗？请回复“是”或“否”。",
    },
    "address_changed": {
        "en": "Done: order {number} will be shipped to the new address.",
        "zh": "已完成：订单 {number} 将寄往新地址。",
    },
    "cannot_change_address": {
        "en": "Order {number} has already shipped, so its address can no longer change.",
        "zh": "订单 {number} 已发货，无法再修改地址。",
    },
    "ask_return_items": {
        "en": 'Which items of order {number} do you want to return, and how many? Reply with the item number, e.g. "1", "1 x2" for two of item 1, or "all":\n{items}',
        "zh": "请问要退订单 {number} 中的哪些商品、各退几件？请回复商品序号，例如“1”、“1 x2”（第 1 件商品退 2 件）或“全部”：\n{items}",
    },
    "return_item_line": {"en": "{index}. {title} (up to {max})", "zh": "{index}. {title}（最多 {max} 件）"},
    "return_item_unknown": {
        "en": "There is no item {index}: choose a number from 1 to {n}.",
        "zh": "没有第 {index} 件商品，请选择 1 到 {n} 之间的序号。",
    },
    "return_too_many": {
        "en": "You can return at most {max} of {title}. How many do you want to return?",
        "zh": "{title} 最多可退 {max} 件。请问要退几件？",
    },
    "ask_return_reason": {
        "en": "Returning {items} from order {number}. Why are you returning it?",
        "zh": "将退回订单 {number} 中的 {items}。请问退货原因是什么？",
    },
    "confirm_return_request": {
        "en": 'Request a return of {items} from order {number} (reason: "{reason}")? Please reply yes or no.',
        "zh": "确定为订单 {number} 申请退货：{items}（原因：“{reason}”）吗？请回复“是”或“否”。",
    },
    "confirm_return_all": {
        "en": "Request a return of {items} from order {number}? Please reply yes or no.",
        "zh": "确定为订单 {number} 申请退货：{items} 吗？请回复“是”或“否”。",
    },
    "nothing_to_return": {
        "en": "Everything on order {number} is already in a return request.",
        "zh": "订单 {number} 的所有商品都已申请退货。",
    },
    "returned": {
        "en": "Your return request #{id} for order {number} is registered. We'll approve it shortly; the refund follows once we receive the items.",
        "zh": "订单 {number} 的退货申请 #{id} 已登记。我们会尽快审核，收到商品后为您退款。",
    },
    "cannot_return": {
        "en": "A return isn't possible for order {number}: {reason}",
        "zh": "订单 {number} 无法退货：{reason}",
    },
    "not_confirmed": {"en": "OK, I haven't changed anything.", "zh": "好的，没有做任何更改。"},
    "change_order": {
        "en": "I can't change the items on an order here. I can cancel an order that hasn't shipped, then you can order again, or I can pass you to an agent.",
        "zh": "我无法在这里修改订单中的商品。未发货的订单我可以帮您取消后重新下单，或者为您转接人工客服。",
    },
    "place_order": {
        "en": "Add the products you want to your cart and go to checkout; I can suggest products if you tell me what you're looking for.",
        "zh": "请将想要的商品加入购物车并去结算；告诉我您想找什么，我可以为您推荐商品。",
    },
    "refund_status": {
        "en": "Order {number} is {status}. Refunds reach the original payment method within 5-10 working days after a cancellation or once a return arrives.",
        "zh": "订单 {number} 当前状态为{status}。取消订单或退货收到后，退款将在 5-10 个工作日内原路退回。",
    },
    "invoice": {
        "en": "Invoice for order {number}: {lines}. Total {total}. You can download it from your order page: {url}",
        "zh": "订单 {number} 的发票：{lines}。合计 {total}。您可以在订单页面下载：{url}",
    },
    "products": {"en": "Here are some ideas{price}: {items}", "zh": "为您推荐{price}：{items}"},
    "products_price": {"en": " under {amount}", "zh": "（{amount} 以内）"},
    "no_products": {
        "en": "I couldn't find products matching that{price}. Try other words, or browse the categories.",
        "zh": "没有找到符合条件的商品{price}，请换个说法或浏览分类。",
    },
    "out_of_scope": {
        "en": "Sorry, I can only help with shopping questions: orders, delivery, returns, payment, your account and products.",
        "zh": "抱歉，我只能解答购物相关的问题：订单、配送、退货、付款、账户和商品。",
    },
    "rephrase": {
        "en": "Sorry, I didn't understand that. Could you say it another way?",
        "zh": "抱歉，我没有理解，您能换个说法吗？",
    },
    "handoff": {
        "en": "I'm passing you to one of our support agents now; they'll reply here shortly.",
        "zh": "正在为您转接人工客服，请稍候，客服会在这里回复您。",
    },
    "handoff_complaint": {
        "en": "I'm sorry about this. I'm passing you to one of our support agents now; they'll reply here shortly.",
        "zh": "非常抱歉给您带来不便。正在为您转接人工客服，请稍候。",
    },
    "waiting": {"en": "", "zh": ""},
    "faq": {"en": "{answer}", "zh": "{answer}"},
    "account": {"en": "{policy}", "zh": "{policy}"},
}


def render(key: str, language: str, **params: Any) -> str:
    template = TEMPLATES[key].get(language) or TEMPLATES[key]["en"]
    return template.format(**params)


STATUS_NAMES = {
    "pending": {"en": "pending payment", "zh": "待付款"},
    "paid": {"en": "paid and being prepared", "zh": "已付款，正在备货"},
    "shipped": {"en": "shipped", "zh": "已发货"},
    "delivered": {"en": "delivered", "zh": "已送达"},
    "cancelled": {"en": "cancelled", "zh": "已取消"},
    "returned": {"en": "returned", "zh": "已退货"},
}


def status_name(status: str, language: str) -> str:
    return STATUS_NAMES.get(status, {}).get(language, status)


# Defaults used until the merchant edits PolicyText rows in the admin (the demo step seeds them).
DEFAULT_POLICIES: dict[str, dict[str, str]] = {
    "returns": {
        "en": "You can return items within 30 days of delivery for a full refund. Tell me the order number and I'll start the return.",
        "zh": "商品送达后 30 天内可退货并全额退款。告诉我订单号，我可以为您申请退货。",
    },
    "refunds": {
        "en": "Refunds go back to the original payment method within 5-10 working days after we receive a return or cancel an order. Cancelling before shipping is free.",
        "zh": "收到退货或取消订单后，退款将在 5-10 个工作日内原路退回。发货前取消订单免费。",
    },
    "shipping": {
        "en": "We deliver across the UK (standard 3-5 working days, £4.95, free over £50; express next working day, £8.95) and to most of Europe (5-10 working days).",
        "zh": "我们配送至英国全境（标准配送 3-5 个工作日，运费 4.95 英镑，满 50 英镑包邮；次日达 8.95 英镑），也配送至欧洲大部分地区（5-10 个工作日）。",
    },
    "payment": {
        "en": "We accept Visa, Mastercard, American Express, PayPal, Apple Pay and Google Pay. If a payment fails, no money is taken; try again or use another method.",
        "zh": "我们接受 Visa、万事达、美国运通、PayPal、Apple Pay 和 Google Pay。付款失败不会扣款，请重试或换一种方式。",
    },
    "cancellation": {
        "en": "Cancelling an order before it ships is free; once shipped, return it within 30 days instead.",
        "zh": "发货前取消订单免费；发货后可在 30 天内退货。",
    },
    "account": {
        "en": "You can manage your account (details, password, addresses, newsletter, deletion and data download) on the account page; the password reset link is on the login page.",
        "zh": "您可以在“我的账户”页面管理个人信息、密码、地址、邮件订阅、注销账户和下载数据；登录页面有重置密码的链接。",
    },
    "contact": {
        "en": "Our support team answers here in the chat 9:00-18:00 UK time, Monday to Friday. Just ask for a human and I'll pass you on.",
        "zh": "客服团队在英国时间周一至周五 9:00-18:00 在此聊天窗口在线。需要人工服务请告诉我。",
    },
}

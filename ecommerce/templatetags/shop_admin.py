"""The admin index's "Shop tools" box: the pages outside the model admin a merchant works in."""

from __future__ import annotations

from dataclasses import dataclass

from django import template
from django.urls import reverse

register = template.Library()


@dataclass(frozen=True)
class AdminTool:
    label: str
    url_name: str
    description: str
    # The permission the page itself checks; None for pages any staff member may open.
    permission: str | None


ADMIN_TOOLS = (
    AdminTool(
        "Analytics dashboard", "analytics:dashboard", "Sales, funnels, retention, segments", "analytics.view_analytics"
    ),
    AdminTool(
        "Support console", "support:console", "Answer shoppers handed off by the bot", "support.handle_conversations"
    ),
    AdminTool(
        "Support metrics",
        "support:metrics",
        "Containment, handoff rate, response time, CSAT",
        "support.view_support_metrics",
    ),
    AdminTool("API documentation", "api-docs", "OpenAPI schema and Swagger UI", None),
)


@register.simple_tag(takes_context=True)
def shop_admin_tools(context) -> list[dict[str, str]]:
    """The tools the signed-in user may open (each page still checks its own permission)."""
    user = context["request"].user
    return [
        {"label": tool.label, "url": reverse(tool.url_name), "description": tool.description}
        for tool in ADMIN_TOOLS
        if tool.permission is None or user.has_perm(tool.permission)
    ]

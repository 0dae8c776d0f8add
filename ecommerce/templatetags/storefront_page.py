"""{% personal "user_nav" %} / {% personal "cart_lines" %}: the personal parts of a storefront page.

In a normal render the tag renders the part for the current shopper. In a render for the shared
signed-in page cache it leaves a hole (a marker) that every answer fills for its own shopper
(ecommerce/storefront/pagecache.py), so the page around it is cached once for everyone.
"""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from ..storefront import holes
from ..storefront.pagecache import hole_marker, shell_render_active

register = template.Library()


@register.simple_tag(takes_context=True)
def personal(context: template.Context, name: str) -> SafeString:
    if shell_render_active(context.get("request")):
        return mark_safe(hole_marker(name))  # noqa: S308 - our own marker
    csrf_token = context.get("csrf_token")
    if name == "user_nav":
        html = holes.user_nav_html(
            user=context.get("user"), cart_count=context.get("cart_count") or 0, csrf_token=csrf_token
        )
    elif name == "cart_lines":
        html = holes.cart_lines_html(
            items=context.get("items") or [], total=context.get("total") or 0, csrf_token=csrf_token
        )
    else:
        raise template.TemplateSyntaxError(f"No personal part called {name!r}.")
    return mark_safe(html)  # noqa: S308 - rendered by the template engine with autoescape

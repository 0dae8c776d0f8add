"""Click tracking for recommendation widgets: record, then redirect to our own product page."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.views.decorators.http import require_GET

from ecommerce.models import Product
from ecommerce.privacy import tracking_for

from .services import recommendation_click_record

ALLOWED_SLOTS = frozenset({"home", "product_similar", "product_together", "cart", "account", "embed", "api"})


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


@require_GET
def recommendation_click(request: HttpRequest, product_id: int) -> HttpResponseRedirect:
    """Log a recommendation_click (slot, model version, position) and go to the product.

    The target is always the product's own URL, never a parameter: no open redirect.
    """
    product = Product.objects.sellable().filter(pk=product_id).first()
    if product is None:
        raise Http404("No such product.")
    slot = request.GET.get("slot", "")
    slot = slot if slot in ALLOWED_SLOTS else "unknown"
    recommendation_click_record(  # stores nothing without consent
        tracking=tracking_for(request),
        slot=slot,
        product_id=product.pk,
        model_version=_int_or_none(request.GET.get("v")),
        position=_int_or_none(request.GET.get("pos")),
    )
    return HttpResponseRedirect(product.get_absolute_url())

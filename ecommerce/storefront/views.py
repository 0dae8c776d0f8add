"""Shopper pages: server-rendered templates, thin views that call selectors and services.

Every view parses input with a form, calls one selector or service, and renders. Pages that
carry forms or the tracker set the CSRF cookie (ensure_csrf_cookie) so the JS can read it.
The partials of the other apps (recommendations, ads, chat) get `product`, `category`, `query`
and `cart` from these contexts.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ..errors import DomainError
from ..models import Cart, Category, Order
from ..privacy import (
    CONSENT_COOKIE,
    session_key_ensure,
    tracking_for,
    user_erase,
    user_export_data,
    user_login_link,
)
from ..selectors.catalog import category_roots, product_get, product_list
from ..selectors.orders import order_list_for
from ..services.cart import cart_add, cart_get_or_create, cart_merge_into_user, cart_set_quantity
from ..services.orders import (
    order_cancel,
    order_place_from_cart,
    order_return_refusal,
    order_returnable_quantities,
    return_request_create,
)
from .context import storefront_nav
from .forms import (
    AccountDeleteForm,
    CartAddForm,
    CartUpdateForm,
    CheckoutForm,
    ConsentForm,
    RegistrationForm,
    SearchForm,
)
from .pagecache import (
    CSRF_PLACEHOLDER,
    RECENT_VIEWS_COOKIE,
    page_cache_active,
    shell_render_active,
    storefront_page_cache,
)
from .services import consent_record

logger = logging.getLogger(__name__)

PAGE_SIZE = 24
HOME_PRODUCTS = 12
# Guest shoppers may see the confirmation of the orders placed in their own session.
SESSION_PLACED_ORDERS = "storefront_placed_orders"
MAX_REMEMBERED_ORDERS = 10
CONSENT_MAX_AGE = 180 * 24 * 3600  # ask again after about six months
SORTS = {"title": "title", "price": "price", "-price": "-price"}


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    if page_cache_active(request):  # a render for the anonymous page cache: no visitor's token in it
        context = {**context, "csrf_token": CSRF_PLACEHOLDER}
    return render(request, template, {**storefront_nav(request), **context}, status=status)


def _paginate(request: HttpRequest, queryset) -> Page:
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _safe_next(request: HttpRequest, fallback: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return fallback


def _current_cart(request: HttpRequest, *, create: bool) -> Cart | None:
    """The shopper's cart; for a read, no cart (or session) is created just to show it empty."""
    if request.user.is_authenticated:
        if not create:
            return Cart.objects.filter(user=request.user).first()
        return cart_get_or_create(user=request.user, session_key=None)
    if not create and not request.session.session_key:
        return None
    session_key = session_key_ensure(request)
    if not create:
        return Cart.objects.filter(session_key=session_key).first()
    return cart_get_or_create(user=None, session_key=session_key)


# --- catalog -------------------------------------------------------------------------------


@storefront_page_cache
@require_GET
@ensure_csrf_cookie
def home(request: HttpRequest) -> HttpResponse:
    # Newest first: an alphabetical start would show only titles beginning with digits.
    products = product_list(in_stock_only=True).order_by("-created_at", "-pk")[:HOME_PRODUCTS]
    return _page(request, "storefront/home.html", {"products": products, "categories": category_roots()})


@storefront_page_cache
@require_GET
@ensure_csrf_cookie
def category_detail(request: HttpRequest, slug: str) -> HttpResponse:
    category = get_object_or_404(Category, slug=slug)
    sort = request.GET.get("sort", "title")
    sort = sort if sort in SORTS else "title"
    page = _paginate(request, product_list(category=category).order_by(SORTS[sort], "pk"))
    return _page(
        request,
        "storefront/category.html",
        {
            "category": category,
            "breadcrumb": category.ancestors(),
            "subcategories": category.children.order_by("name"),
            "page": page,
            "sort": sort,
            # Pagination links keep a non-default sort order.
            "page_query": urlencode({"sort": sort}) + "&" if sort != "title" else "",
        },
    )


@storefront_page_cache
@require_GET
@ensure_csrf_cookie
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    page = _paginate(request, product_list(query=query)) if query else None
    return _page(
        request,
        "storefront/search.html",
        {
            "form": form,
            "query": query,
            "page": page,
            "page_query": urlencode({"q": query}) + "&",
        },
    )


@storefront_page_cache
@require_GET
@ensure_csrf_cookie
def product_detail(request: HttpRequest, product_id: int) -> HttpResponse:
    product = product_get(product_id=product_id)
    if product is None:
        raise Http404("No such product.")
    category = product.category
    breadcrumb = [*category.ancestors(), category] if category is not None else []
    return _page(
        request,
        "storefront/product.html",
        {
            "product": product,
            "category": category,
            "breadcrumb": breadcrumb,
            "add_form": CartAddForm(initial={"product_id": product.pk, "quantity": 1}),
        },
    )


# --- cart and checkout ---------------------------------------------------------------------


@storefront_page_cache
@require_GET
@ensure_csrf_cookie
def cart_detail(request: HttpRequest) -> HttpResponse:
    # The shared shell of a signed-in cart page has a hole for the lines: nothing to read here.
    cart = None if shell_render_active(request) else _current_cart(request, create=False)
    items = list(cart.items.select_related("product__category").order_by("pk")) if cart else []
    return _page(
        request,
        "storefront/cart.html",
        {
            "cart": cart,
            "items": items,
            "total": sum(item.line_total for item in items) if items else 0,
        },
    )


@require_POST
def cart_update(request: HttpRequest) -> HttpResponse:
    form = CartUpdateForm(request.POST)
    fallback = reverse("storefront:cart")
    if not form.is_valid():
        messages.error(
            request,
            "That cart change was not understood: "
            + "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()),
        )
        return redirect(_safe_next(request, fallback))
    cart = _current_cart(request, create=True)
    product_id = form.cleaned_data["product_id"]
    action = form.cleaned_data["action"]
    try:
        if action == CartUpdateForm.ACTION_ADD:
            line = cart_add(cart=cart, product_id=product_id, quantity=form.cleaned_data["quantity"])
            if line is not None:
                messages.success(request, f"Added {line.product.title} to your cart.")
        elif action == CartUpdateForm.ACTION_SET:
            cart_set_quantity(cart=cart, product_id=product_id, quantity=form.cleaned_data["quantity"])
            messages.success(request, "Your cart is updated.")
        else:
            cart_set_quantity(cart=cart, product_id=product_id, quantity=0)
            messages.success(request, "The item is removed from your cart.")
    except DomainError as exc:
        messages.error(request, str(exc))
    return redirect(_safe_next(request, fallback))


@require_http_methods(["GET", "POST"])
@ensure_csrf_cookie
def checkout(request: HttpRequest) -> HttpResponse:
    cart = _current_cart(request, create=False)
    items = list(cart.items.select_related("product").order_by("pk")) if cart else []
    if not items:
        messages.info(request, "Your cart is empty: add something first.")
        return redirect("storefront:cart")
    user = request.user if request.user.is_authenticated else None
    if request.method == "POST":
        form = CheckoutForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                order = order_place_from_cart(
                    cart=cart,
                    user=user,
                    email=data["email"],
                    shipping_name=data["shipping_name"],
                    shipping_address=data["shipping_address"],
                    country=data["country"],
                    tracking=tracking_for(request, anonymous_id=data["anonymous_id"]),
                )
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                placed = request.session.get(SESSION_PLACED_ORDERS, [])
                request.session[SESSION_PLACED_ORDERS] = [order.number, *placed][:MAX_REMEMBERED_ORDERS]
                return redirect("storefront:order_confirmation", number=order.number)
    else:
        form = CheckoutForm(
            initial={
                "shipping_name": user.get_full_name() if user else "",
                "email": user.email if user else "",
                "country": user.country if user else "",
            }
        )
    return _page(
        request,
        "storefront/checkout.html",
        {
            "form": form,
            "cart": cart,
            "items": items,
            "total": sum(i.line_total for i in items),
        },
    )


@require_GET
def order_confirmation(request: HttpRequest, number: str) -> HttpResponse:
    order = Order.objects.prefetch_related("items__product").filter(number=number).first()
    own = order is not None and request.user.is_authenticated and order.user_id == request.user.pk
    placed_here = number in request.session.get(SESSION_PLACED_ORDERS, [])
    if order is None or not (own or placed_here):
        raise Http404("No such order.")
    return _page(request, "storefront/order_confirmation.html", {"order": order})


# --- account and orders ---------------------------------------------------------------------


@login_required
@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    page = _paginate(request, order_list_for(user=request.user))
    return _page(request, "storefront/order_list.html", {"page": page})


@login_required
@require_GET
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    # Only the owner: another shopper's order is a 404, indistinguishable from a missing one.
    order = get_object_or_404(order_list_for(user=request.user), number=number)
    return _page(request, "storefront/order_detail.html", _order_detail_context(order))


def _order_detail_context(order: Order, **extra: Any) -> dict[str, Any]:
    returnable = order_returnable_quantities(order)
    lines = [
        {
            "item": item,
            "returnable": max(returnable.get(item.pk, 0), 0),
            "wanted": extra.get("wanted", {}).get(item.pk, 0),
        }
        for item in order.items.all()
    ]
    return {
        "order": order,
        "return_lines": lines,
        "can_return": not order_return_refusal(order) and any(line["returnable"] for line in lines),
        "returns": order.return_requests.prefetch_related("lines__item").order_by("-created_at", "-id"),
        **extra,
    }


@login_required
@require_POST
def order_cancel_view(request: HttpRequest, number: str) -> HttpResponse:
    # The account pages are about the shopper's own orders: staff who may cancel any order do that
    # in the admin or the API, so another person's order answers like a missing one (404) here.
    get_object_or_404(order_list_for(user=request.user), number=number)
    try:
        order = order_cancel(number=number, actor=request.user)
    except DomainError as error:
        if error.status_code == 404:
            raise Http404("No such order.") from None
        messages.error(request, str(error))
        return redirect("storefront:order_detail", number=number)
    messages.success(request, f"Order {order.number} is cancelled.")
    return redirect("storefront:order_detail", number=order.number)


@login_required
@require_POST
def order_return_view(request: HttpRequest, number: str) -> HttpResponse:
    """Per-item return: one quantity field per order line (`qty-<item id>`) and a reason."""
    order = get_object_or_404(order_list_for(user=request.user), number=number)
    wanted: dict[int, int] = {}
    error = ""
    for item in order.items.all():
        raw = (request.POST.get(f"qty-{item.pk}") or "0").strip() or "0"
        if not raw.isdigit():
            error = "Quantities must be whole numbers."
            break
        if int(raw):
            wanted[item.pk] = int(raw)
    reason = request.POST.get("reason", "")
    if not error:
        try:
            return_request_create(number=order.number, actor=request.user, lines=wanted, reason=reason)
        except DomainError as failure:
            error = str(failure)
    if error:
        context = _order_detail_context(order, return_error=error, wanted=wanted, reason=reason)
        return _page(request, "storefront/order_detail.html", context, status=400)
    messages.success(request, "Your return request is registered. We'll email you when it is approved.")
    return redirect("storefront:order_detail", number=order.number)


@login_required
@require_GET
@ensure_csrf_cookie
def account(request: HttpRequest) -> HttpResponse:
    return _page(
        request,
        "storefront/account.html",
        {
            "orders": order_list_for(user=request.user)[:5],
        },
    )


def _link_pre_login(request: HttpRequest, user: Any, previous_session_key: str) -> None:
    """Let export and erasure find what this browser session did before signing in."""
    user_login_link(
        user=user,
        previous_session_key=previous_session_key,
        placed_order_numbers=list(request.session.get(SESSION_PLACED_ORDERS, [])),
        tracking=tracking_for(request),
    )


class LoginView(auth_views.LoginView):
    """Django's login, plus: the cart filled before signing in joins the account's cart."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        anonymous_session_key = self.request.session.session_key or ""
        response = super().form_valid(form)  # login() cycles the session key
        cart_merge_into_user(session_key=anonymous_session_key, user=form.get_user())
        _link_pre_login(self.request, form.get_user(), anonymous_session_key)
        return response

    def get_default_redirect_url(self):
        """Without a `next`: an app may send this account to its own home (advertisers: their portal)."""
        from ecommerce import plugins

        return plugins.login_landing(self.request.user) or super().get_default_redirect_url()

    def get_context_data(self, **kwargs):
        return {**storefront_nav(self.request), **super().get_context_data(**kwargs)}


class LogoutView(auth_views.LogoutView):
    next_page = "storefront:home"


@require_http_methods(["GET", "POST"])
@ensure_csrf_cookie
def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("storefront:account")
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        anonymous_session_key = request.session.session_key or ""
        user = form.save()
        auth_login(request, user, backend="ecommerce.auth_backends.CachedModelBackend")
        cart_merge_into_user(session_key=anonymous_session_key, user=user)
        _link_pre_login(request, user, anonymous_session_key)
        messages.success(request, "Welcome! Your account is ready.")
        return redirect(_safe_next(request, reverse("storefront:account")))
    return _page(request, "registration/register.html", {"form": form})


# --- privacy -------------------------------------------------------------------------------


@require_POST
def consent(request: HttpRequest) -> HttpResponse:
    """The consent banner's Accept / Decline: a cookie the tracker and the event API obey."""
    form = ConsentForm(request.POST)
    response = HttpResponseRedirect(_safe_next(request, reverse("storefront:home")))
    if not form.is_valid():
        messages.error(request, "Choose Accept or Decline.")
        return response
    choice = form.cleaned_data["choice"]
    # Not HttpOnly: the tracker reads it in the browser before it stores or sends anything.
    response.set_cookie(
        CONSENT_COOKIE,
        choice,
        max_age=CONSENT_MAX_AGE,
        samesite="Lax",
        secure=request.is_secure(),
    )
    if choice != "yes":  # the tracker's list of viewed products goes with the consent
        response.delete_cookie(RECENT_VIEWS_COOKIE, samesite="Lax")
    consent_record(user=request.user, allowed=choice == "yes")
    return response


@require_GET
@ensure_csrf_cookie
def privacy(request: HttpRequest) -> HttpResponse:
    """Anyone can change their tracking choice here; export and deletion need an account."""
    delete_form = AccountDeleteForm(user=request.user) if request.user.is_authenticated else None
    return _page(request, "storefront/privacy.html", {"delete_form": delete_form})


@login_required
@require_GET
def privacy_export(request: HttpRequest) -> HttpResponse:
    response = JsonResponse(user_export_data(user=request.user), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = 'attachment; filename="my-data.json"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def privacy_delete(request: HttpRequest) -> HttpResponse:
    form = AccountDeleteForm(request.POST, user=request.user)
    if not form.is_valid():
        return _page(request, "storefront/privacy.html", {"delete_form": form}, status=400)
    user = request.user
    user_erase(user=user)
    auth_logout(request)
    messages.success(request, "Your account is deleted and your personal data erased.")
    response = redirect("storefront:home")
    # Start this browser afresh too: the banner asks again and the tracker drops its anonymous id.
    response.delete_cookie(CONSENT_COOKIE, samesite="Lax")
    response.delete_cookie(RECENT_VIEWS_COOKIE, samesite="Lax")
    return response

"""The advertiser portal (/advertisers/): campaigns, their ad, targeting with a live audience
estimate, budgets and bids in the shop's currency, the daily report with a chart and CSV, and
API tokens. For accounts that belong to an Advertiser (customers of the shop, not staff).

Views are thin: they parse the form, call the advertising services (which check access again)
and render. Someone else's campaign answers 404, an account without an advertiser 403.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ecommerce.errors import DomainError

from . import conf, services
from .forms import CampaignPortalForm
from .models import ApiToken, Campaign
from .reports import report_chart, report_csv, report_data
from .selectors import audience_estimate, portal_campaigns
from .selectors import product_search as products_matching
from .tokens import api_token_create, api_token_revoke


def advertiser_required(view):
    """Signed in (else the login page) and a member of an active advertiser (else 403)."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        advertiser = services.advertiser_for(request.user)
        if advertiser is None:
            return render(request, "advertising/portal/not_an_advertiser.html", status=403)
        request.advertiser = advertiser
        return view(request, *args, **kwargs)

    return wrapped


def _campaign(request: HttpRequest, pk: int) -> Campaign:
    campaign = portal_campaigns(user=request.user).filter(pk=pk).first()
    if campaign is None:
        raise Http404("No such campaign.")
    return campaign


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {"advertiser": request.advertiser, "currency": settings.SHOP_CURRENCY, **extra}


def _form_errors(form, exc: ValidationError | DomainError) -> None:
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            field = {
                "product_id": "product",
                "landing_url": "landing_url" if "landing_url" in form.fields else None,
            }.get(field, field)
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages if isinstance(exc, ValidationError) else str(exc))


@advertiser_required
@require_GET
def campaign_list(request: HttpRequest) -> HttpResponse:
    campaigns = portal_campaigns(user=request.user).order_by("-created_at")
    return render(request, "advertising/portal/list.html", _context(request, campaigns=campaigns, section="campaigns"))


def _campaign_form_page(request: HttpRequest, *, campaign: Campaign | None) -> HttpResponse:
    allow_external = conf.external_landing_urls_allowed()
    initial = CampaignPortalForm.initial_for(campaign) if campaign else None
    form = CampaignPortalForm(request.POST or None, initial=initial, allow_external=allow_external, campaign=campaign)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.campaign_save(
                user=request.user,
                campaign=campaign,
                advertiser=request.advertiser,
                data=form.service_data(campaign=campaign),
            )
        except (ValidationError, DomainError) as exc:
            _form_errors(form, exc)
        else:
            if saved.review_status == Campaign.Review.PENDING:
                messages.success(request, f"{saved.name} is saved and waits for the shop's approval.")
            else:
                messages.success(request, f"{saved.name} is saved.")
            return redirect("advertising:portal-campaign", pk=saved.pk)
    picked = None
    product_id = form["product"].value()
    if product_id and str(product_id).isdigit():
        found = products_matching(query=str(product_id), limit=1)
        picked = found[0] if found else None
    return render(
        request,
        "advertising/portal/form.html",
        _context(
            request,
            form=form,
            campaign=campaign,
            picked=picked,
            allow_external=allow_external,
            section="campaigns" if campaign else "new",
        ),
        status=400 if request.method == "POST" else 200,
    )


@advertiser_required
@require_http_methods(["GET", "POST"])
def campaign_create(request: HttpRequest) -> HttpResponse:
    return _campaign_form_page(request, campaign=None)


@advertiser_required
@require_http_methods(["GET", "POST"])
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    if campaign.status == Campaign.Status.FINISHED:
        messages.error(request, "A finished campaign cannot be changed.")
        return redirect("advertising:portal-campaign", pk=pk)
    return _campaign_form_page(request, campaign=campaign)


@advertiser_required
@require_GET
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    report = report_data(campaign=campaign)
    context = _context(
        request,
        section="campaigns",
        campaign=campaign,
        ads=campaign.ads.select_related("product").order_by("-is_active", "-pk"),
        report=report,
        updated_at=campaign.daily_reports.order_by("-updated_at").values_list("updated_at", flat=True).first(),
        chart=report_chart(report["rows"]),
        estimate=audience_estimate(campaign=campaign),
        moves=[s for s in (Campaign.Status.ACTIVE, Campaign.Status.PAUSED) if campaign.can_transition_to(s)],
    )
    return render(request, "advertising/portal/detail.html", context)


@advertiser_required
@require_POST
def campaign_status(request: HttpRequest, pk: int) -> HttpResponse:
    """POST to=active|paused|finished: start, pause, resume or finish."""
    campaign = _campaign(request, pk)
    to = request.POST.get("to", "")
    try:
        services.campaign_transition(campaign=campaign, to_status=to, user=request.user)
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        words = {"active": "is running", "paused": "is paused", "finished": "is finished"}
        messages.success(request, f"{campaign.name} {words.get(to, to)}.")
    return redirect("advertising:portal-campaign", pk=pk)


@advertiser_required
@require_GET
def campaign_report_csv(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    response = HttpResponse(report_csv(campaign=campaign), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-report.csv"'
    return response


@advertiser_required
@require_GET
def audience_preview(request: HttpRequest) -> JsonResponse:
    """The live estimate while the form is filled in: the targeting fields of the query string."""
    form = CampaignPortalForm(request.GET, allow_external=False)
    form.is_valid()  # only the targeting fields are read; the others may still be empty
    data = form.cleaned_data
    bad = {name: form.errors[name] for name in CampaignPortalForm.TARGETING if name in form.errors}
    if bad:
        return JsonResponse({"errors": bad}, status=400)
    probe = Campaign(
        genders=list(data.get("genders") or []),
        countries=list(data.get("countries") or []),
        segments=list(data.get("segments") or []),
        min_age=data.get("min_age"),
        max_age=data.get("max_age"),
    )
    estimate = audience_estimate(campaign=probe)
    categories = data.get("interest_categories") or []
    if categories:
        estimate["notes"].append("Interest categories narrow this further once saved.")
    if data.get("retarget"):
        estimate["notes"].append("Retargeting narrows this further to recent visitors once saved.")
    return JsonResponse(estimate)


@advertiser_required
@require_GET
def product_search(request: HttpRequest) -> JsonResponse:
    query = request.GET.get("q", "")[:100]
    return JsonResponse({"products": products_matching(query=query) if query.strip() else []})


@advertiser_required
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    new_key = None
    status = 200
    if request.method == "POST":
        try:
            _, new_key = api_token_create(
                user=request.user, advertiser=request.advertiser, name=request.POST.get("name", "")
            )
        except DomainError as exc:
            messages.error(request, str(exc))
            status = 400
    tokens = ApiToken.objects.filter(advertiser=request.advertiser).select_related("created_by")
    return render(
        request,
        "advertising/portal/tokens.html",
        _context(request, tokens=tokens, new_key=new_key, section="tokens"),
        status=status,
    )


@advertiser_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    if not ApiToken.objects.filter(pk=token_id, advertiser=request.advertiser).exists():
        raise Http404("No such token.")
    token = api_token_revoke(user=request.user, token_id=token_id)
    messages.success(request, f"Token {token.name} is revoked.")
    return redirect("advertising:portal-tokens")

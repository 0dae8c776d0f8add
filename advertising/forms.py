"""Forms of the advertiser portal and the merchant admin: multi-selects for genders, countries and
segments (never raw JSON), money inputs with the currency, a product picker for ads."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone

from ecommerce.models import Category, Product
from ecommerce.money import money_plain

from .conf import SLOTS
from .models import Campaign
from .selectors import country_choices, segment_choices

GENDER_CHOICES = [("f", "Women"), ("m", "Men"), ("o", "Other / not said")]


class MoneyInput(forms.NumberInput):
    """Shows 3.000000 as "3.00" but keeps a fraction of a penny ("0.0125")."""

    def __init__(self, attrs: dict | None = None):
        super().__init__(attrs={"step": "0.01", "min": "0", "inputmode": "decimal", **(attrs or {})})

    def format_value(self, value):
        if isinstance(value, Decimal):
            plain = money_plain(value)
            return plain if Decimal(plain) == value else format(value.normalize(), "f")
        return super().format_value(value)


def money_field(label: str, help_text: str = "", required: bool = True) -> forms.DecimalField:
    return forms.DecimalField(
        label=f"{label} ({settings.SHOP_CURRENCY})",
        max_digits=14,
        decimal_places=6,
        min_value=Decimal("0"),
        required=required,
        help_text=help_text,
        widget=MoneyInput(),
    )


class TargetingChoicesMixin:
    """Fills the genders / countries / segments choices; keeps values already stored (a seeded
    campaign targets a country nobody has yet) so saving unchanged never fails."""

    def _targeting_choices(self, instance_values: dict[str, list[str]]) -> None:
        countries = dict(country_choices())
        for value in instance_values.get("countries", []):
            countries.setdefault(value, value)
        self.fields["countries"].choices = sorted(countries.items(), key=lambda kv: kv[1])
        segments = dict(segment_choices())
        for value in instance_values.get("segments", []):
            segments.setdefault(value, value)
        self.fields["segments"].choices = list(segments.items())


class CampaignAdminForm(TargetingChoicesMixin, forms.ModelForm):
    genders = forms.MultipleChoiceField(
        choices=GENDER_CHOICES, required=False, widget=forms.CheckboxSelectMultiple, help_text="None ticked = everyone."
    )
    countries = forms.MultipleChoiceField(
        choices=[], required=False, widget=forms.SelectMultiple(attrs={"size": 8}), help_text="None = all countries."
    )
    segments = forms.MultipleChoiceField(
        choices=[],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Analytics segments (by name); none = all shoppers.",
    )

    class Meta:
        model = Campaign
        fields = [
            "advertiser",
            "name",
            "objective",
            "starts_at",
            "ends_at",
            "daily_budget",
            "total_budget",
            "bid_type",
            "bid",
            "attribution_days",
            "view_attribution_days",
            "run_of_site",
            "min_age",
            "max_age",
            "genders",
            "countries",
            "interest_categories",
            "segments",
            "retarget",
            "retarget_days",
            "retarget_categories",
            "lookalike_min_score",
            "cap_per_user_day",
            "cap_per_session",
        ]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        instance = self.instance
        self._targeting_choices(
            {"countries": list(instance.countries or []), "segments": list(instance.segments or [])}
        )


# Campaign fields the portal form copies as they are (both into its initial values and into the
# campaign_save payload); the list-valued and defaulted ones are handled next to their use.
PORTAL_PLAIN_FIELDS = (
    "name",
    "objective",
    "bid_type",
    "bid",
    "daily_budget",
    "total_budget",
    "starts_at",
    "ends_at",
    "min_age",
    "max_age",
    "retarget_days",
    "cap_per_user_day",
    "attribution_days",
    "view_attribution_days",
)


class CampaignPortalForm(TargetingChoicesMixin, forms.Form):
    """One campaign with one ad, as an advertiser sees it."""

    name = forms.CharField(max_length=200)
    objective = forms.ChoiceField(choices=Campaign.Objective.choices, initial=Campaign.Objective.TRAFFIC)
    # --- the ad
    product = forms.IntegerField(
        label="Product number",
        min_value=1,
        help_text="Search the catalogue above and pick a product: its page, title and picture come with it.",
    )
    headline = forms.CharField(max_length=90, required=False, help_text="Empty: the product's title.")
    landing_url = forms.CharField(
        max_length=500,
        required=False,
        label="External landing URL",
        help_text="Empty: the product's page in this shop.",
    )
    # --- money and schedule
    bid_type = forms.ChoiceField(choices=Campaign.BidType.choices, initial=Campaign.BidType.CPC)
    bid = money_field("Bid", "Most you pay per click (CPC) or per 1,000 impressions (CPM).")
    daily_budget = money_field("Daily budget")
    total_budget = money_field("Total budget")
    starts_at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    ends_at = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Empty: runs until the budget is spent or you finish it.",
    )
    # --- targeting
    genders = forms.MultipleChoiceField(
        choices=GENDER_CHOICES, required=False, widget=forms.CheckboxSelectMultiple, help_text="None ticked = everyone."
    )
    min_age = forms.IntegerField(min_value=13, max_value=120, required=False, label="Age from")
    max_age = forms.IntegerField(min_value=13, max_value=120, required=False, label="Age to")
    countries = forms.MultipleChoiceField(
        choices=[], required=False, widget=forms.SelectMultiple(attrs={"size": 6}), help_text="None = all countries."
    )
    interest_categories = forms.ModelMultipleChoiceField(
        queryset=Category.objects.order_by("name"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="Shoppers interested in these categories; none = all.",
    )
    segments = forms.MultipleChoiceField(
        choices=[], required=False, widget=forms.CheckboxSelectMultiple, help_text="None ticked = all shoppers."
    )
    retarget = forms.ChoiceField(choices=Campaign.Retarget.choices, required=False)
    retarget_days = forms.IntegerField(
        min_value=1, max_value=365, initial=30, label="Retargeting window (days)", required=False
    )
    cap_per_user_day = forms.IntegerField(min_value=1, required=False, label="At most per shopper per day")
    attribution_days = forms.IntegerField(min_value=1, max_value=90, initial=7, label="Click attribution window (days)")
    view_attribution_days = forms.IntegerField(
        min_value=0, max_value=30, initial=1, label="View attribution window (days)", help_text="0 = clicks only."
    )
    run_of_site = forms.BooleanField(
        required=False,
        label="Run of site",
        help_text="Also show the ad on pages it does not fit (other categories, unrelated searches), ranked lower.",
    )

    TARGETING = (
        "genders",
        "min_age",
        "max_age",
        "countries",
        "interest_categories",
        "segments",
        "retarget",
        "retarget_days",
    )

    def __init__(self, *args: Any, allow_external: bool = False, campaign: Campaign | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.allow_external = allow_external
        if not allow_external:
            del self.fields["landing_url"]
        stored = (
            {"countries": list(campaign.countries or []), "segments": list(campaign.segments or [])} if campaign else {}
        )
        self._targeting_choices(stored)
        if not self.is_bound and campaign is None:
            self.initial.setdefault("starts_at", timezone.localtime().replace(second=0, microsecond=0))

    @classmethod
    def initial_for(cls, campaign: Campaign) -> dict[str, Any]:
        ad = campaign.ads.filter(is_active=True).order_by("-pk").first()
        initial: dict[str, Any] = {
            name: getattr(campaign, name)
            for name in (*PORTAL_PLAIN_FIELDS, "genders", "countries", "segments", "retarget", "run_of_site")
        }
        initial["starts_at"] = timezone.localtime(campaign.starts_at)
        initial["ends_at"] = timezone.localtime(campaign.ends_at) if campaign.ends_at else None
        initial["interest_categories"] = list(campaign.interest_categories.values_list("pk", flat=True))
        if ad is not None:
            initial.update(product=ad.product_id, headline=ad.headline)
            if ad.product_id is None or ad.landing_url != ad.product.get_absolute_url():
                initial["landing_url"] = ad.landing_url
        return initial

    def clean_product(self) -> int:
        product_id = self.cleaned_data["product"]
        product = Product.objects.sellable().filter(pk=product_id).first()
        if product is None:
            raise forms.ValidationError("Pick a product that is for sale.")
        return product_id

    def service_data(self, *, campaign: Campaign | None) -> dict[str, Any]:
        """The campaign_save payload; the ad only when it changed (an unchanged ad keeps the approval)."""
        d = self.cleaned_data
        data = {name: d.get(name) for name in PORTAL_PLAIN_FIELDS}
        data["run_of_site"] = bool(d.get("run_of_site"))
        data["retarget_days"] = data["retarget_days"] or 30
        data["retarget"] = d.get("retarget") or ""
        data["genders"] = list(d.get("genders") or [])
        data["countries"] = list(d.get("countries") or [])
        data["segments"] = list(d.get("segments") or [])
        data["interest_categories"] = [c.pk for c in d.get("interest_categories") or []]
        ad = {
            "product_id": d["product"],
            "headline": d.get("headline") or "",
            "landing_url": (d.get("landing_url") or "") if self.allow_external else "",
        }
        current = campaign.ads.filter(is_active=True).order_by("-pk").first() if campaign else None
        if current is None or _ad_changed(current, ad):
            data["ads"] = [ad]
        return data


def _ad_changed(ad, wanted: dict[str, Any]) -> bool:
    if ad.product_id != wanted["product_id"]:
        return True
    if wanted["headline"] and wanted["headline"] != ad.headline:
        return True
    default_landing = ad.product.get_absolute_url() if ad.product_id else ""
    return (wanted["landing_url"] or default_landing) != ad.landing_url


class AdAdminForm(forms.ModelForm):
    """An ad in the admin: with a product, the landing URL and headline may stay empty (the
    product's page and title are used); a path on this shop such as /products/7/ is valid."""

    class Meta:
        from .models import Ad

        model = Ad
        fields = ["headline", "product", "image_url", "landing_url", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for name in ("headline", "landing_url"):
            self.fields[name].required = False
        self.fields["landing_url"].help_text = "Empty: the product's page. Or a path on this shop, or an http(s) URL."

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        product = data.get("product")
        if product is not None:
            if not data.get("landing_url"):
                data["landing_url"] = product.get_absolute_url()
            if not data.get("headline"):
                data["headline"] = product.title.title()[:90]
        if self.has_changed() and not data.get("landing_url") and "landing_url" not in self.errors:
            self.add_error("landing_url", "Pick a product or give a landing URL.")
        if self.has_changed() and not data.get("headline") and "headline" not in self.errors:
            self.add_error("headline", "Give a headline (or pick a product).")
        return data


class AdsSettingsForm(forms.ModelForm):
    allowed_slots = forms.MultipleChoiceField(
        choices=[(s, s.title()) for s in SLOTS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Where sponsored products may appear; none ticked = nowhere.",
    )

    class Meta:
        from .models import AdsSettings

        model = AdsSettings
        fields = ["reserve_cpc", "reserve_cpm", "allowed_slots", "allow_external_landing_urls"]
        widgets = {"reserve_cpc": MoneyInput(), "reserve_cpm": MoneyInput()}
        labels = {
            "reserve_cpc": f"Reserve price per click ({settings.SHOP_CURRENCY})",
            "reserve_cpm": f"Reserve price per 1,000 impressions ({settings.SHOP_CURRENCY})",
        }


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    reason = forms.CharField(max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3}))

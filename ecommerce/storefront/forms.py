"""Storefront forms: they parse and validate shopper input; services do the rest."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.utils import timezone

from ..models import User
from ..services.cart import MAX_QUANTITY_PER_LINE


class SearchForm(forms.Form):
    q = forms.CharField(max_length=100, required=False, strip=True)


class CartAddForm(forms.Form):
    product_id = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    quantity = forms.IntegerField(min_value=1, max_value=MAX_QUANTITY_PER_LINE, initial=1)


class CartUpdateForm(forms.Form):
    """One cart line: set its quantity (0 removes it) or remove it outright."""

    ACTION_ADD = "add"
    ACTION_SET = "set"
    ACTION_REMOVE = "remove"

    product_id = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    quantity = forms.IntegerField(min_value=0, max_value=MAX_QUANTITY_PER_LINE, required=False)
    action = forms.ChoiceField(
        choices=[(ACTION_ADD, "Add"), (ACTION_SET, "Update"), (ACTION_REMOVE, "Remove")],
        initial=ACTION_SET,
    )

    def clean(self):
        data = super().clean()
        if data.get("action") in (self.ACTION_ADD, self.ACTION_SET) and data.get("quantity") is None:
            self.add_error("quantity", "Give a quantity.")
        return data


class CheckoutForm(forms.Form):
    shipping_name = forms.CharField(label="Full name", max_length=200)
    email = forms.EmailField(label="Email for the confirmation")
    shipping_address = forms.CharField(
        label="Shipping address", max_length=1000, widget=forms.Textarea(attrs={"rows": 4})
    )
    country = forms.CharField(max_length=64, required=False)
    # Filled by the tracker (only with consent) so the purchase joins the shopper's browsing.
    anonymous_id = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)


class RegistrationForm(UserCreationForm):
    """Sign-up with the profile fields that analytics and recommendations use (all optional)."""

    email = forms.EmailField(required=True)
    birth_year = forms.IntegerField(
        required=False, min_value=1900, help_text="Optional: helps us suggest products for you."
    )
    gender = forms.ChoiceField(choices=User.Gender.choices, required=False)
    country = forms.CharField(max_length=64, required=False)

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email", "birth_year", "gender", "country")

    def clean_birth_year(self) -> int | None:
        year = self.cleaned_data.get("birth_year")
        if year is not None and year > timezone.now().year:
            raise forms.ValidationError("A birth year cannot be in the future.")
        return year

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email already exists.")
        return email


class ConsentForm(forms.Form):
    choice = forms.ChoiceField(choices=[("yes", "Accept"), ("no", "Decline")])
    next = forms.CharField(required=False, max_length=500)


class AccountDeleteForm(forms.Form):
    """Deleting an account is irreversible: the shopper re-enters their password."""

    password = forms.CharField(widget=forms.PasswordInput, strip=False)
    confirm = forms.BooleanField(label="I understand this cannot be undone.")

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That password is not correct.")
        return password

"""URLs of the advertising app, included at the site root (paths here are full paths)."""

from django.urls import path  # noqa: F401

app_name = "advertising"
urlpatterns: list = []

"""URLs of the analytics app, included at the site root (paths here are full paths)."""

from django.urls import path  # noqa: F401

app_name = "analytics"
urlpatterns: list = []

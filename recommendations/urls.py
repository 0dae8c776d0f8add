"""URLs of the recommendations app, included at the site root (paths here are full paths)."""

from django.urls import path  # noqa: F401

app_name = "recommendations"
urlpatterns: list = []

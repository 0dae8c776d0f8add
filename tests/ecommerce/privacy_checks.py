"""Helpers for the privacy tests: find every row, in every table of every app, that could
name a person or a browser (introspected, so a table added later is checked too)."""

from __future__ import annotations

import re

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import models
from django.db.models.functions import Cast

# Columns that identify a browser rather than a person.
BROWSER_FIELDS = {"session_key", "anonymous_id", "actor"}


def _models() -> list[type[models.Model]]:
    return [m for m in apps.get_models(include_auto_created=True) if m is not get_user_model() and m is not Session]


def linked_rows(*, user_ids: list[int]) -> dict[str, int]:
    """Rows pointing at one of `user_ids`, or holding any session key / anonymous id / actor."""
    user_model = get_user_model()
    found: dict[str, int] = {}
    for model in _models():
        for f in model._meta.concrete_fields:
            if isinstance(f, models.ForeignKey) and f.related_model is user_model and user_ids:
                n = model._default_manager.filter(**{f"{f.name}__in": user_ids}).count()
            elif f.name in BROWSER_FIELDS and isinstance(f, models.CharField):
                n = model._default_manager.exclude(**{f.name: ""}).exclude(**{f"{f.name}__isnull": True}).count()
            else:
                continue
            if n:
                found[f"{model._meta.label}.{f.name}"] = n
    return found


def rows_containing(marker: str) -> dict[str, int]:
    """Rows with `marker` in any text or JSON column, in any table (case-insensitive)."""
    found: dict[str, int] = {}
    for model in [*_models(), get_user_model()]:
        for f in model._meta.concrete_fields:
            if isinstance(f, models.CharField | models.TextField | models.EmailField):
                qs = model._default_manager.filter(**{f"{f.name}__icontains": marker})
            elif isinstance(f, models.JSONField):
                qs = model._default_manager.annotate(_as_text=Cast(f.name, models.TextField())).filter(
                    _as_text__icontains=marker
                )
            else:
                continue
            n = qs.count()
            if n:
                found[f"{model._meta.label}.{f.name}"] = n
    return found


def links_in(html: str, prefix: str) -> list[str]:
    return [m.replace("&amp;", "&") for m in re.findall(rf'href="({re.escape(prefix)}[^"]+)"', html)]

"""Support settings, read with defaults so the app needs no change in ecommerce/settings.py."""

from __future__ import annotations

import os

from django.conf import settings


def agent_max_active() -> int:
    """How many open (assigned) conversations round-robin gives one agent at most."""
    return int(getattr(settings, "SUPPORT_AGENT_MAX_ACTIVE", os.environ.get("SUPPORT_AGENT_MAX_ACTIVE", 5)))


def auto_assign() -> bool:
    """Assign a handed-off conversation to the next agent at once (else it waits to be claimed)."""
    value = getattr(settings, "SUPPORT_AUTO_ASSIGN", os.environ.get("SUPPORT_AUTO_ASSIGN", "false"))
    return str(value).lower() in ("1", "true", "yes", "on")


def rasa_token_max_age() -> int:
    """Seconds a signed Rasa sender token stays valid."""
    return int(getattr(settings, "SUPPORT_RASA_TOKEN_MAX_AGE", os.environ.get("SUPPORT_RASA_TOKEN_MAX_AGE", 86400)))


def warm_encoder_at_startup() -> bool:
    """Load the sentence encoder (~3 s, ~150 MB) when Django starts (AppConfig.ready) instead of on
    the first chat message. Off by default so tests and management commands stay fast."""
    value = getattr(settings, "SUPPORT_WARM_ENCODER", os.environ.get("SUPPORT_WARM_ENCODER", "false"))
    return str(value).lower() in ("1", "true", "yes", "on")

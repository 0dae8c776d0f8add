"""Support settings: thin readers of django.conf.settings (values come from ecommerce/settings.py)."""

from __future__ import annotations

from django.conf import settings


def agent_max_active() -> int:
    """How many open (assigned) conversations round-robin gives one agent at most."""
    return int(settings.SUPPORT_AGENT_MAX_ACTIVE)


def auto_assign() -> bool:
    """Assign a handed-off conversation to the next agent at once (else it waits to be claimed)."""
    return bool(settings.SUPPORT_AUTO_ASSIGN)


def rasa_token_max_age() -> int:
    """Seconds a signed Rasa sender token stays valid."""
    return int(settings.SUPPORT_RASA_TOKEN_MAX_AGE)


def warm_encoder_at_startup() -> bool:
    """Load the sentence encoder (~3 s, ~150 MB) when Django starts (AppConfig.ready) instead of on
    the first chat message. Off by default so tests and management commands stay fast."""
    return bool(settings.SUPPORT_WARM_ENCODER)

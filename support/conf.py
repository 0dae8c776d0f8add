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

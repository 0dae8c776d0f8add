"""Storefront writes that belong to no other service module: the shopper's tracking choice."""

from __future__ import annotations

import logging

from ..auth_backends import user_cache_forget
from ..models import User

logger = logging.getLogger(__name__)


def consent_record(*, user: User | None, allowed: bool) -> None:
    """Remember a signed-in shopper's choice on the account too (the cookie is per browser).

    The cookie is what the tracker and the event API obey; the account flag lets staff and the
    other apps know the shopper's standing choice.
    """
    if user is None or not user.is_authenticated:
        return
    if user.tracking_consent != allowed:
        User.objects.filter(pk=user.pk).update(tracking_consent=allowed)
        user_cache_forget(user.pk)  # update() sends no post_save
        user.tracking_consent = allowed
    logger.info("privacy.consent_recorded", extra={"user_id": user.pk, "allowed": allowed})

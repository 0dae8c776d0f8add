"""Per-advertiser REST API tokens: created and revoked in the advertiser portal, shown once.

Only the SHA-256 of a key is stored (a stolen database does not hand out working keys). The key
is 40 random url-safe characters after the "adv_" prefix; a request sends it as
`Authorization: Token adv_...` and acts as the member who created it, so every scoping rule of the
session API (Campaign.objects.visible_to, campaign_check_access) applies unchanged. A revoked
token, or one whose creator left the advertiser or was deactivated, answers 401.
"""

from __future__ import annotations

import hashlib
import logging
import secrets

from django.db import transaction
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from ecommerce.errors import DomainError, NotFound, PermissionDenied
from ecommerce.models import User

from .models import Advertiser, ApiToken

logger = logging.getLogger(__name__)

KEY_PREFIX = "adv_"
MAX_ACTIVE_TOKENS = 20
# last_used_at is written at most this often per token (a busy integration must not write per call).
LAST_USED_RESOLUTION_SECONDS = 60


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user: User, advertiser: Advertiser, name: str) -> tuple[ApiToken, str]:
    """A new token for `advertiser`, made by one of its members. Returns (row, key): the key is
    not stored and cannot be shown again."""
    if not advertiser.is_active or not advertiser.users.filter(pk=user.pk).exists():
        raise PermissionDenied("Only members of the advertiser may create its API tokens.")
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise DomainError("Name the token (1 to 100 characters), e.g. the tool that will use it.")
    active = ApiToken.objects.select_for_update().filter(advertiser=advertiser, revoked_at__isnull=True)
    if len(active) >= MAX_ACTIVE_TOKENS:
        raise DomainError(f"At most {MAX_ACTIVE_TOKENS} active tokens: revoke one first.")
    key = KEY_PREFIX + secrets.token_urlsafe(30)
    token = ApiToken.objects.create(
        advertiser=advertiser, created_by=user, name=name, prefix=key[:10], key_hash=key_hash(key)
    )
    logger.info("advertising.api_token_created", extra={"token_id": token.pk, "advertiser_id": advertiser.pk})
    return token, key


def api_token_revoke(*, user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's advertisers' tokens (idempotent); merchant staff may revoke any."""
    from ecommerce.roles import user_can

    tokens = ApiToken.objects.all()
    if not user_can(user, "advertising.change_apitoken"):
        tokens = tokens.filter(advertiser__users=user)
    token = tokens.filter(pk=token_id).first()
    if token is None:
        raise NotFound("No such token.")
    if token.revoked_at is None:
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        token.refresh_from_db()
        logger.info("advertising.api_token_revoked", extra={"token_id": token.pk})
    return token


def api_token_user(key: str) -> tuple[User, ApiToken] | None:
    """The member a key acts as, or None (unknown, revoked, or its creator no longer a member)."""
    if not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    token = (
        ApiToken.objects.select_related("created_by", "advertiser")
        .filter(key_hash=key_hash(key), revoked_at__isnull=True, advertiser__is_active=True)
        .first()
    )
    if token is None:
        return None
    user = token.created_by
    if not user.is_active or not token.advertiser.users.filter(pk=user.pk).exists():
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return user, token


class AdvertiserTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token adv_...` -> the token's member. Only on the advertiser API."""

    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send 'Authorization: Token <key>' with one key.")
        try:
            key = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("The token contains invalid characters.") from exc
        found = api_token_user(key)
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        return found

    def authenticate_header(self, request) -> str:
        return self.keyword  # makes DRF answer 401 (not 403) to a missing or bad token


class AdvertiserTokenScheme(OpenApiAuthenticationExtension):
    """Documents the token in the OpenAPI schema (/api/schema/, /api/docs/)."""

    target_class = "advertising.tokens.AdvertiserTokenAuthentication"
    name = "advertiserToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "An advertiser API token from the portal (/advertisers/tokens/): `Token adv_...`.",
        }

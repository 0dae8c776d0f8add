"""Authentication classes shared by the apps' APIs."""

from __future__ import annotations

import hashlib
import secrets

from rest_framework import authentication, exceptions

from ..models import IngestionToken


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def ingestion_token_create(*, name: str) -> str:
    """Create a token; the raw value is returned once and only its hash is stored."""
    raw = "ing_" + secrets.token_urlsafe(32)
    IngestionToken.objects.create(name=name, key_hash=hash_token(raw))
    return raw


class IngestionTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>` for server-side event integrations. No user; auth = token."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header.startswith(self.keyword + " "):
            return None
        raw = header[len(self.keyword) + 1 :].strip()
        token = IngestionToken.objects.filter(key_hash=hash_token(raw), is_active=True).first()
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked ingestion token.")
        from django.contrib.auth.models import AnonymousUser

        return (AnonymousUser(), token)

    def authenticate_header(self, request) -> str:
        return self.keyword


class CsrfEnforcedSessionAuthentication(authentication.SessionAuthentication):
    """Session auth that checks CSRF for anonymous sessions too.

    DRF's SessionAuthentication only checks CSRF once a user is logged in; endpoints that bind
    state to an anonymous session (the chat, the cart) must not be writable cross-site.
    """

    def authenticate(self, request):
        user = getattr(request._request, "user", None)
        self.enforce_csrf(request)
        if not user or not user.is_active:
            return None
        return (user, None)

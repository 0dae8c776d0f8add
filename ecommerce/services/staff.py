"""Staff accounts with a role (ecommerce/roles.py). is_staff lets them into the admin; the role's
group decides what they may do there and in the APIs."""

from __future__ import annotations

import logging

from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from ..errors import Conflict, DomainError
from ..models import User
from ..roles import ROLES, role_groups_sync

logger = logging.getLogger(__name__)


def account_fields_check(*, username: str, email: str, password: str) -> None:
    """The checks every new account passes (shared with advertiser accounts)."""
    if not username or len(username) > 150:
        raise DomainError("Give a username of 1 to 150 characters.")
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(f"A user named {username!r} exists already.")
    try:
        validate_password(password, User(username=username, email=email))
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages)) from exc


@transaction.atomic
def staff_user_create(*, username: str, password: str, role: str, email: str = "") -> User:
    """A staff account in exactly one role group."""
    username = (username or "").strip()
    if role not in ROLES:
        raise DomainError(f"Unknown role {role!r}; use one of {', '.join(ROLES)}.")
    account_fields_check(username=username, email=email, password=password)
    role_groups_sync()  # the group exists with today's permissions even if roles.py changed
    user = User.objects.create_user(username=username, email=email, password=password, is_staff=True)
    user.groups.add(Group.objects.get(name=ROLES[role].group))
    logger.info("staff.created", extra={"user_id": user.pk, "role": role})
    return user

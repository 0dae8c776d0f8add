"""Page decorators for staff pages (dashboards, consoles) that need one capability.

Replaces `staff_member_required`, which let every staff account in: here the permission decides
(ecommerce/roles.py) and is_staff plays no part.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from .roles import user_can


def perm_required(perm: str, message: str = "You do not have permission to see this page.") -> Callable:
    """Anonymous visitors go to the admin login; signed-in users without `perm` get a 403."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("admin:login"))
            if not user_can(request.user, perm):
                raise PermissionDenied(message)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator

"""DRF permission classes over ecommerce/roles.py: the API asks the same question as the services."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from ..roles import user_can


def HasPerm(perm: str, message: str = "You do not have permission to do this.") -> type[BasePermission]:  # noqa: N802
    """A permission class for one capability, e.g. `permission_classes = [HasPerm(VIEW_ANALYTICS)]`.

    Anonymous callers get DRF's "not authenticated" answer; signed-in callers without the
    permission a 403 with `message`. is_staff plays no part.
    """

    class _HasPerm(BasePermission):
        def has_permission(self, request, view) -> bool:
            return user_can(request.user, perm)

    _HasPerm.message = message
    _HasPerm.__name__ = f"HasPerm[{perm}]"
    return _HasPerm

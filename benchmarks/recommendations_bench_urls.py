"""URLconf for the API benchmark: a bare JSON view in front of the real site's URLs."""

from django.http import JsonResponse
from django.urls import include, path


def bare_json(request):
    return JsonResponse({"items": [], "k": 10})


def bare_json_with_user(request):
    """The same, but it looks at the logged-in user (session + user queries), as any personal view must."""
    return JsonResponse({"items": [], "k": 10, "user": request.user.pk})


urlpatterns = [
    path("bench/bare/", bare_json),
    path("bench/bare-user/", bare_json_with_user),
    path("", include("ecommerce.urls")),
]

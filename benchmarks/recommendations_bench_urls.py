"""URLconf for the API benchmark: a bare JSON view in front of the real site's URLs."""

from django.http import JsonResponse
from django.urls import include, path


def bare_json(request):
    return JsonResponse({"items": [], "k": 10})


urlpatterns = [
    path("bench/bare/", bare_json),
    path("", include("ecommerce.urls")),
]

from django.conf import settings
from django.contrib import admin
from django.http import Http404
from django.urls import include, path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

# The merchant's back office carries the shop's name, not "Django administration".
admin.site.site_header = f"{settings.SHOP_NAME} administration"
admin.site.site_title = f"{settings.SHOP_NAME} admin"
admin.site.index_title = "Back office"


def media_serve(request, path: str):
    """Uploaded media for the embedded first run (MEDIA_SERVE, default DEBUG); production serves
    MEDIA_URL from the proxy or an object store and this answers 404."""
    if not settings.MEDIA_SERVE:
        raise Http404("Media are served by the web server.")
    return serve(request, path, document_root=settings.MEDIA_ROOT)


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script under our CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("ecommerce.api.urls")),
    # Each app owns its full paths (pages and API) in its own urls.py.
    path("", include("recommendations.urls")),
    path("", include("support.urls")),
    path("", include("advertising.urls")),
    path("", include("analytics.urls")),
    path("", include("ecommerce.storefront.urls")),
]

if not settings.MEDIA_URL.startswith(("http://", "https://", "//")):  # else an object store serves them
    urlpatterns.append(path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", media_serve, name="media"))

# JSON clients get JSON errors even when a middleware fails (ecommerce/health.py).
handler500 = "ecommerce.health.server_error"

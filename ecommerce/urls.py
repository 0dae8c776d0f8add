from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("ecommerce.api.urls")),
    # Each app owns its full paths (pages and API) in its own urls.py.
    path("", include("recommendations.urls")),
    path("", include("support.urls")),
    path("", include("advertising.urls")),
    path("", include("analytics.urls")),
    path("", include("ecommerce.storefront.urls")),
]

# JSON clients get JSON errors even when a middleware fails (ecommerce/health.py).
handler500 = "ecommerce.health.server_error"

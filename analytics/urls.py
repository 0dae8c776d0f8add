"""URLs of the analytics app, included at the site root (paths here are full paths)."""

from django.urls import path

from . import api, views

app_name = "analytics"
urlpatterns = [
    path("analytics/dashboard/", views.dashboard, name="dashboard"),
    path("analytics/refresh/", views.refresh, name="refresh"),
    path("api/analytics/kpis/", api.KpisApi.as_view(), name="kpis"),
    path("api/analytics/trends/", api.TrendsApi.as_view(), name="trends"),
    path("api/analytics/funnel/", api.FunnelApi.as_view(), name="funnel"),
    path("api/analytics/retention/", api.RetentionApi.as_view(), name="retention"),
    path("api/analytics/rfm/", api.RfmApi.as_view(), name="rfm"),
    path("api/analytics/segments/", api.SegmentsApi.as_view(), name="segments"),
    path("api/analytics/top/", api.TopApi.as_view(), name="top"),
    path("api/analytics/heatmap/", api.HeatmapApi.as_view(), name="heatmap"),
    path("api/analytics/distributions/", api.DistributionsApi.as_view(), name="distributions"),
]

"""URLs of the advertising app, included at the site root (paths here are full paths)."""

from django.urls import path

from . import api

app_name = "advertising"
urlpatterns = [
    path("api/ads/serve/", api.AdServeApi.as_view(), name="serve"),
    path("ads/click/<str:token>/", api.ad_click_view, name="click"),
    path("api/ads/campaigns/", api.CampaignListApi.as_view(), name="campaign-list"),
    path("api/ads/campaigns/<int:pk>/", api.CampaignDetailApi.as_view(), name="campaign-detail"),
    path("api/ads/campaigns/<int:pk>/transition/", api.CampaignTransitionApi.as_view(), name="campaign-transition"),
    path("api/ads/campaigns/<int:pk>/audience/", api.CampaignAudienceApi.as_view(), name="campaign-audience"),
]

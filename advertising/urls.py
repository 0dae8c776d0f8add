"""URLs of the advertising app, included at the site root (paths here are full paths)."""

from django.urls import path

from . import api, portal

app_name = "advertising"
urlpatterns = [
    path("api/ads/serve/", api.AdServeApi.as_view(), name="serve"),
    path("ads/click/<str:token>/", api.ad_click_view, name="click"),
    path("api/ads/campaigns/", api.CampaignListApi.as_view(), name="campaign-list"),
    path("api/ads/campaigns/<int:pk>/", api.CampaignDetailApi.as_view(), name="campaign-detail"),
    path("api/ads/campaigns/<int:pk>/transition/", api.CampaignTransitionApi.as_view(), name="campaign-transition"),
    path("api/ads/campaigns/<int:pk>/audience/", api.CampaignAudienceApi.as_view(), name="campaign-audience"),
    path("api/ads/campaigns/<int:pk>/ads/", api.AdListApi.as_view(), name="campaign-ads"),
    path("api/ads/campaigns/<int:pk>/ads/<int:ad_id>/", api.AdDetailApi.as_view(), name="campaign-ad"),
    path("api/ads/campaigns/<int:pk>/report/", api.CampaignReportApi.as_view(), name="campaign-report"),
    path("api/ads/campaigns/<int:pk>/report.csv", api.CampaignReportCsvApi.as_view(), name="campaign-report-csv"),
    # The advertiser portal (HTML, session login; advertising/portal.py).
    path("advertisers/", portal.campaign_list, name="portal"),
    path("advertisers/campaigns/new/", portal.campaign_create, name="portal-create"),
    path("advertisers/campaigns/<int:pk>/", portal.campaign_detail, name="portal-campaign"),
    path("advertisers/campaigns/<int:pk>/edit/", portal.campaign_edit, name="portal-edit"),
    path("advertisers/campaigns/<int:pk>/status/", portal.campaign_status, name="portal-status"),
    path("advertisers/campaigns/<int:pk>/report.csv", portal.campaign_report_csv, name="portal-report-csv"),
    path("advertisers/audience/", portal.audience_preview, name="portal-audience"),
    path("advertisers/products/", portal.product_search, name="portal-products"),
    path("advertisers/tokens/", portal.token_list, name="portal-tokens"),
    path("advertisers/tokens/<int:token_id>/revoke/", portal.token_revoke, name="portal-token-revoke"),
]

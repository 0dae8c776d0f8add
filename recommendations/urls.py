"""URLs of the recommendations app, included at the site root (paths here are full paths)."""

from django.urls import path

from . import api, views

app_name = "recommendations"
urlpatterns = [
    path("api/recommendations/me/", api.MyRecommendationsApi.as_view(), name="me"),
    path("api/recommendations/users/<int:user_id>/", api.UserRecommendationsApi.as_view(), name="user"),
    path("api/products/<int:product_id>/similar/", api.SimilarProductsApi.as_view(), name="similar"),
    path("api/products/<int:product_id>/bought-together/", api.BoughtTogetherApi.as_view(), name="bought_together"),
    path("recommendations/click/<int:product_id>/", views.recommendation_click, name="click"),
]

from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "storefront"
urlpatterns = [
    path("", views.home, name="home"),
    path("products/<int:product_id>/", views.product_detail, name="product"),
    path("c/<slug:slug>/", views.home, name="category"),
    path("account/orders/<str:number>/", views.home, name="order_detail"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
]

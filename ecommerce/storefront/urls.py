from django.urls import path

from . import views

app_name = "storefront"
urlpatterns = [
    path("", views.home, name="home"),
    path("products/<int:product_id>/", views.product_detail, name="product"),
    path("c/<slug:slug>/", views.category_detail, name="category"),
    path("search/", views.search, name="search"),
    path("cart/", views.cart_detail, name="cart"),
    path("cart/update/", views.cart_update, name="cart_update"),
    path("checkout/", views.checkout, name="checkout"),
    path("checkout/done/<str:number>/", views.order_confirmation, name="order_confirmation"),
    path("account/", views.account, name="account"),
    path("account/orders/", views.order_list, name="order_list"),
    path("account/orders/<str:number>/", views.order_detail, name="order_detail"),
    path("account/orders/<str:number>/cancel/", views.order_cancel_view, name="order_cancel"),
    path("account/orders/<str:number>/return/", views.order_return_view, name="order_return"),
    path("account/privacy/", views.privacy, name="privacy"),
    path("account/privacy/export/", views.privacy_export, name="privacy_export"),
    path("account/privacy/delete/", views.privacy_delete, name="privacy_delete"),
    path("privacy/consent/", views.consent, name="consent"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.LogoutView.as_view(), name="logout"),
    path("accounts/register/", views.register, name="register"),
]

from django.apps import AppConfig


class EcommerceConfig(AppConfig):
    name = "ecommerce"
    verbose_name = "Shop"
    default_auto_field = "django.db.models.BigAutoField"

from django.apps import AppConfig


class AdvertisingConfig(AppConfig):
    name = "advertising"
    default_auto_field = "django.db.models.BigAutoField"

from django.apps import AppConfig


class AdvertisingConfig(AppConfig):
    name = "advertising"
    verbose_name = "Advertising"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ecommerce import plugins

        from .demo import seed_demo_advertising, train_advertising_models
        from .demo_shoppers import demo_ad_shoppers_link
        from .services import erase_ad_data_of, export_ad_data_of

        # After the core catalogue (order=10): the campaigns promote real products.
        plugins.register_demo_step("advertising", seed_demo_advertising, order=40)
        # After the campaigns' traffic and the core demo orders: clicks by buyers -> conversions.
        plugins.register_demo_step("advertising", demo_ad_shoppers_link, order=45)
        from ecommerce.plugins import register_login_landing

        from .selectors import portal_landing_for

        register_login_landing("advertising", portal_landing_for)
        plugins.register_training_job("advertising", train_advertising_models)
        plugins.register_erasure_step("advertising", erase_ad_data_of)
        plugins.register_export_step("advertising", export_ad_data_of)

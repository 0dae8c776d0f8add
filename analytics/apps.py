from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ecommerce import plugins

        from . import demo, services

        plugins.register_demo_step("analytics", demo.demo_analytics, order=90)
        plugins.register_training_job("analytics", demo.train_segments, order=90)
        plugins.register_erasure_step("analytics", services.segment_memberships_erase)
        plugins.register_export_step("analytics", services.segment_memberships_export)
        plugins.register_data_loaded_hook("analytics", services.rollups_refresh_enqueue)

from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "recommendations"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Recommendations"

    def ready(self) -> None:
        from ecommerce import plugins

        from . import demo, privacy

        plugins.register_training_job("recommendations", demo.train_for_demo)
        plugins.register_demo_step("recommendations", demo.demo_step, order=40)
        plugins.register_erasure_step("recommendations", privacy.erase_recommendations_of)
        plugins.register_export_step("recommendations", privacy.export_recommendations_of)

from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "support"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Support desk"

    def ready(self) -> None:
        from ecommerce import plugins

        from .demo import support_demo_step, support_training_job
        from .services import conversation_claim_at_login, conversations_erase_for, conversations_export_for

        plugins.register_demo_step("support", support_demo_step, order=60)
        plugins.register_training_job("support", support_training_job, order=60)
        plugins.register_erasure_step("support", conversations_erase_for)
        plugins.register_export_step("support", conversations_export_for)
        plugins.register_login_step("support", conversation_claim_at_login)

        from .engine import warm_encoder_if_enabled

        warm_encoder_if_enabled()

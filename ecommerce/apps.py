from django.apps import AppConfig


class EcommerceConfig(AppConfig):
    name = "ecommerce"
    verbose_name = "Shop"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_delete, post_migrate, post_save

        from .api import schema  # noqa: F401  (registers OpenAPI auth extensions)
        from .auth_backends import forget_saved_user
        from .login_protection import log_lockout
        from .models import User
        from .roles import role_groups_sync_after_migrate
        from .sessions import rekey_signed_in_session

        # Every saved or deleted user leaves the login cache (see auth_backends).
        post_save.connect(forget_saved_user, sender=User, dispatch_uid="ecommerce.forget_saved_user")
        post_delete.connect(forget_saved_user, sender=User, dispatch_uid="ecommerce.forget_deleted_user")
        # Signed-in session keys carry the user id, so serving views need one cache round trip.
        user_logged_in.connect(rekey_signed_in_session, dispatch_uid="ecommerce.rekey_signed_in_session")
        # The role groups always match ecommerce/roles.py after a migrate.
        post_migrate.connect(
            role_groups_sync_after_migrate, sender=self, dispatch_uid="ecommerce.role_groups_sync_after_migrate"
        )
        # Lockouts (django-axes) are logged with the user id only.
        user_locked_out.connect(log_lockout, dispatch_uid="ecommerce.log_lockout")

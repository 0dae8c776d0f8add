"""Staff roles: the order capabilities and the five role groups (ecommerce/roles.py).

The groups need every app's permissions, which Django normally creates only after `migrate`
finishes (post_migrate); create_permissions makes them exist here first.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_APPS = ("auth", "contenttypes", "ecommerce", "analytics", "support", "recommendations", "advertising")


def groups_create(apps, schema_editor):
    from ecommerce.roles import role_groups_sync

    for label in ROLE_APPS:
        app_config = apps.get_app_config(label)
        app_config.models_module = True  # historical app configs have none; create_permissions skips those
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    # Later migrations add permissions that roles.py already lists: the post_migrate sync
    # (ecommerce.apps) grants those once they exist.
    role_groups_sync(apps=apps, missing_ok=True)


def groups_delete(apps, schema_editor):
    from ecommerce.roles import ROLES

    apps.get_model("auth", "Group").objects.filter(name__in=[r.group for r in ROLES.values()]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("ecommerce", "0002_event_received_at_index"),
        ("analytics", "0005_roles"),
        ("support", "0002_roles"),
        ("recommendations", "0003_roles"),
        ("advertising", "0001_initial"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="order",
            options={
                "ordering": ["-placed_at"],
                "permissions": [
                    ("view_customer_orders", "Can see any customer's orders (API, chatbot)"),
                    ("manage_orders", "Can cancel, return or re-address any customer's order"),
                ],
            },
        ),
        migrations.RunPython(groups_create, groups_delete),
    ]

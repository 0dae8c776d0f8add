"""Advertisers are customers of the shop, not staff: advertiser members lose is_staff.

Until now an advertiser login was a staff account (so it could open the campaign admin), which
also let it into every staff-only page. Superusers keep their flags.
"""

from django.db import migrations


def advertisers_unstaff(apps, schema_editor):
    user_model = apps.get_model("ecommerce", "User")
    ids = list(user_model.objects.filter(is_staff=True, is_superuser=False, advertiser_accounts__isnull=False)
               .values_list("pk", flat=True).distinct())
    user_model.objects.filter(pk__in=ids).update(is_staff=False)
    # A shared login cache may hold the old rows (QuerySet.update sends no post_save).
    from ecommerce.auth_backends import user_cache_forget_many

    user_cache_forget_many(ids)


class Migration(migrations.Migration):

    dependencies = [
        ("advertising", "0001_initial"),
        ("ecommerce", "0002_event_received_at_index"),
    ]

    operations = [
        migrations.RunPython(advertisers_unstaff, migrations.RunPython.noop),
    ]

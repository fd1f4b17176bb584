"""Operators may see locked-out login addresses and unlock them (axes' access attempts)."""

from django.db import migrations


def sync(apps, schema_editor):
    from campaigns.roles import sync_groups

    sync_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0005_created_by_verbose_names"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]

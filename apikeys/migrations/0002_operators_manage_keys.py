"""Operators create, edit and revoke API keys (campaigns/roles.py)."""

from django.db import migrations


def sync_groups(apps, schema_editor):
    from campaigns.roles import sync_groups

    sync_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("apikeys", "0001_api_keys"),
        ("campaigns", "0002_groups"),
    ]

    operations = [migrations.RunPython(sync_groups, migrations.RunPython.noop)]

"""Operators manage webhook endpoints and resend deliveries (campaigns/roles.py)."""

from django.db import migrations


def sync_groups(apps, schema_editor):
    from campaigns.roles import sync_groups

    sync_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0002_event_triggers"),
        ("campaigns", "0002_groups"),
    ]

    operations = [migrations.RunPython(sync_groups, migrations.RunPython.noop)]

"""The triggers that write events in the transaction of their change (webhooks/triggers.py)."""

from django.db import migrations


def install(apps, schema_editor):
    from webhooks.triggers import install

    install(schema_editor.connection)


def remove(apps, schema_editor):
    from webhooks.triggers import remove

    remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_endpoints_events_deliveries"),
        ("campaigns", "0004_submit_tries"),
        ("vendors", "0002_callback_guards"),
    ]

    operations = [migrations.RunPython(install, remove)]

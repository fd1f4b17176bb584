"""Keys that could manage webhook endpoints before the scope existed (send_calls or manage_campaigns) keep it."""

from django.db import migrations

BEFORE = {"send_calls", "manage_campaigns"}


def give_manage_webhooks(apps, schema_editor):
    ApiKey = apps.get_model("apikeys", "ApiKey")
    for key in ApiKey.objects.all().only("id", "scopes"):
        if BEFORE & set(key.scopes) and "manage_webhooks" not in key.scopes:
            key.scopes = [*key.scopes, "manage_webhooks"]
            key.save(update_fields=["scopes"])


def take_manage_webhooks(apps, schema_editor):
    ApiKey = apps.get_model("apikeys", "ApiKey")
    for key in ApiKey.objects.all().only("id", "scopes"):
        if "manage_webhooks" in key.scopes:
            key.scopes = [s for s in key.scopes if s != "manage_webhooks"]
            key.save(update_fields=["scopes"])


class Migration(migrations.Migration):
    dependencies = [("apikeys", "0002_operators_manage_keys")]

    operations = [migrations.RunPython(give_manage_webhooks, take_manage_webhooks)]

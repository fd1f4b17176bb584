"""Create the Operators, Marketing and Finance groups with least privilege (campaigns/roles.py)."""

from django.db import migrations


def create_groups(apps, schema_editor):
    from campaigns.roles import sync_groups

    sync_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0001_initial"),
        ("vendors", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]

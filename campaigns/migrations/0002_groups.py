"""Create the Operators, Marketing and Finance groups with least privilege (campaigns/roles.py)."""

from django.db import migrations


def create_groups(apps, schema_editor):
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    from campaigns.roles import ROLE_PERMISSIONS, permission_codenames

    for app_config in global_apps.get_app_configs():  # permissions exist only after post_migrate otherwise
        create_permissions(app_config, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name in ROLE_PERMISSIONS:
        group, _created = Group.objects.get_or_create(name=name)
        wanted = [
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
            for app_label, codename in permission_codenames(name)
        ]
        group.permissions.set(wanted)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0001_initial"),
        ("vendors", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]

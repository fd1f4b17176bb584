"""The three staff roles and exactly what each may do (least privilege).

Used by the data migration that creates the groups and by the tests that check them.
"""

# app_label → model → actions
ROLE_PERMISSIONS = {
    "Operators": {
        "vendors": {"vendoraccount": "add change delete view", "balancesnapshot": "view"},
        "campaigns": {
            "campaign": "add change delete view",
            "recipient": "add change delete view",
            "voicetemplate": "add change delete view",
            "callrecord": "change view",
            "singlecall": "view",
            "callroute": "add change delete view",
            "callbackevent": "change view",
            "donotcallentry": "add change delete view",
            "recipientimport": "add change view",
            "inboundreply": "view",
        },
        "apikeys": {"apikey": "add change view"},
        "webhooks": {
            "endpoint": "add change delete view",
            "delivery": "change view",
            "deliveryattempt": "view",
        },
        # locked-out login addresses: see them and unlock (delete the failed attempts)
        "axes": {"accessattempt": "view delete"},
        "django_celery_beat": {
            "periodictask": "add change delete view",
            "intervalschedule": "add change delete view",
            "crontabschedule": "add change delete view",
        },
    },
    "Marketing": {
        "campaigns": {
            "campaign": "add change view",
            "recipient": "add change delete view",
            "voicetemplate": "add change view",
            "callrecord": "view",
            "donotcallentry": "add view",
            "recipientimport": "add view",
            "inboundreply": "view",
        },
    },
    "Finance": {
        "vendors": {"vendoraccount": "view", "balancesnapshot": "view"},
        "campaigns": {"campaign": "view", "callrecord": "view", "singlecall": "view"},  # spend links to them
    },
}


def permission_codenames(group: str):
    """(app_label, codename) pairs for a group."""
    for app_label, models in ROLE_PERMISSIONS[group].items():
        for model, actions in models.items():
            for act in actions.split():
                yield app_label, f"{act}_{model}"


def sync_groups(apps) -> None:
    """Create the groups and give each exactly its permissions (idempotent; used by migrations)."""
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    for app_config in global_apps.get_app_configs():  # permissions exist only after post_migrate otherwise
        create_permissions(app_config, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name in ROLE_PERMISSIONS:
        group, _created = Group.objects.get_or_create(name=name)
        group.permissions.set(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
            for app_label, codename in permission_codenames(name)
        )

"""Runtime state and rotated secrets (``voiceops.runtime_state``): named once per model, written by
services, never by a form."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import RequestFactory

from voiceops.admin_base import WritesWhatTheOperatorChanged
from voiceops.runtime_state import RuntimeStateMixin

pytestmark = pytest.mark.django_db


def models_with_runtime_state():
    return [model for model in apps.get_models() if issubclass(model, RuntimeStateMixin)]


def test_the_models_whose_services_keep_state_name_real_fields():
    models = models_with_runtime_state()
    assert {m.__name__ for m in models} >= {"VendorAccount", "Endpoint", "Campaign", "VoiceTemplate", "ApiKey"}
    for model in models:
        fields = {f.name for f in model._meta.concrete_fields}
        assert model.RUNTIME_STATE_FIELDS and set(model.RUNTIME_STATE_FIELDS) <= fields, model


def test_the_models_whose_secrets_are_rotated_name_real_fields():
    rotated = {m.__name__: m.ROTATED_SECRET_FIELDS for m in models_with_runtime_state() if m.ROTATED_SECRET_FIELDS}
    assert set(rotated) >= {"VendorAccount", "Endpoint"}
    for model in models_with_runtime_state():
        fields = {f.name for f in model._meta.concrete_fields}
        assert set(model.ROTATED_SECRET_FIELDS) <= fields, model
        assert not set(model.ROTATED_SECRET_FIELDS) & set(model.RUNTIME_STATE_FIELDS), model


def test_no_admin_form_edits_runtime_state_or_rotated_secrets():
    request = RequestFactory().get("/admin/")
    request.user = User.objects.create_superuser("root", password="pw-1234-long")
    for model in models_with_runtime_state():
        model_admin = admin.site._registry[model]
        for obj in (None, model()):  # the add form and a change form
            editable = set(model_admin.get_form(request, obj).base_fields) - set(
                model_admin.get_readonly_fields(request, obj)
            )
            assert not editable & {*model.RUNTIME_STATE_FIELDS, *model.ROTATED_SECRET_FIELDS}, (model, editable)


def test_the_admins_of_rows_services_write_save_only_what_the_operator_changed():
    for model in models_with_runtime_state():
        assert isinstance(admin.site._registry[model], WritesWhatTheOperatorChanged), model

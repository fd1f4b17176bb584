"""Saving a key never undoes its revocation or its last use, written meanwhile by conditional UPDATEs."""

import pytest

from apikeys import services
from apikeys.admin import ApiKeyAdmin
from apikeys.models import ApiKey
from apikeys.scopes import MANAGE_CAMPAIGNS
from tests.admin_forms import change_form_data
from tests.apikeys.test_api_keys import key_client

pytestmark = pytest.mark.django_db


def test_a_rename_racing_a_revocation_leaves_the_key_revoked(admin_client, monkeypatch):
    client, key, _secret = key_client(MANAGE_CAMPAIGNS, name="crm")
    url = f"/admin/apikeys/apikey/{key.pk}/change/"
    sent = change_form_data(admin_client, url, name="crm (production)")
    save_model = ApiKeyAdmin.save_model

    def revoked_between_read_and_write(self, request, obj, form, change):
        services.revoke(ApiKey.objects.filter(pk=obj.pk), actor=request.user)  # another operator's action
        save_model(self, request, obj, form, change)

    monkeypatch.setattr(ApiKeyAdmin, "save_model", revoked_between_read_and_write)
    response = admin_client.post(url, sent)
    assert response.status_code == 302, response.context["adminform"].form.errors
    saved = ApiKey.objects.get(pk=key.pk)
    assert saved.name == "crm (production)" and saved.revoked
    assert client.get("/api/campaigns/").status_code == 401


def test_a_stale_key_saved_after_its_use_and_revocation_keeps_both():
    client, key, _secret = key_client(MANAGE_CAMPAIGNS)
    stale = ApiKey.objects.get(pk=key.pk)  # as authentication read it, before the use was recorded
    assert client.get("/api/campaigns/").status_code == 200
    ApiKey.objects.filter(pk=key.pk, revoked=False).update(revoked=True)
    stale.save()  # as the library's re-hash of an outdated hash does
    saved = ApiKey.objects.get(pk=key.pk)
    assert saved.revoked and saved.last_used_at is not None

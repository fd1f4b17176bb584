"""Every call is accounted for: nobody deletes call records, callback events or balance snapshots
by hand, superusers included (issue 11); removal is for a documented retention job."""

import pytest
from django.db.models import ProtectedError

from campaigns import services
from campaigns.models import CallRecord, Campaign, Recipient
from tests.factories import make_account, make_campaign
from vendors.models import BalanceSnapshot, VendorAccount

pytestmark = pytest.mark.django_db


def test_a_superuser_gets_no_delete_button_or_action_for_call_records(admin_client):
    """As reported: superusers had a delete action and a delete button on call records."""
    campaign = make_campaign(recipients=2)
    services.launch(campaign)
    call = CallRecord.objects.filter(campaign=campaign).first()
    assert admin_client.get(f"/admin/campaigns/callrecord/{call.pk}/delete/").status_code == 403
    page = admin_client.get(f"/admin/campaigns/callrecord/{call.pk}/change/").content.decode()
    assert f"/admin/campaigns/callrecord/{call.pk}/delete/" not in page
    listing = admin_client.get("/admin/campaigns/callrecord/").content.decode()
    assert "delete_selected" not in listing
    response = admin_client.post(
        "/admin/campaigns/callrecord/", {"action": "delete_selected", "_selected_action": [call.pk], "post": "yes"}
    )
    assert response.status_code in (200, 302)
    assert CallRecord.objects.filter(pk=call.pk).exists()


def test_balance_snapshots_cannot_be_deleted_by_a_superuser(admin_client):
    account = make_account()
    snapshot = BalanceSnapshot.objects.create(account=account, amount=100, unit="CNY")
    assert admin_client.get(f"/admin/vendors/balancesnapshot/{snapshot.pk}/delete/").status_code == 403
    assert "delete_selected" not in admin_client.get("/admin/vendors/balancesnapshot/").content.decode()
    # nor through their account: an account with history is kept
    assert admin_client.post(f"/admin/vendors/vendoraccount/{account.pk}/delete/", {"post": "yes"}).status_code == 200
    assert VendorAccount.objects.filter(pk=account.pk).exists() and BalanceSnapshot.objects.exists()
    with pytest.raises(ProtectedError):
        account.delete()


def test_deleting_a_campaign_or_recipient_never_takes_its_calls_with_it(admin_client):
    campaign = make_campaign(recipients=2)
    services.launch(campaign)
    page = admin_client.post(f"/admin/campaigns/campaign/{campaign.pk}/delete/", {"post": "yes"})
    assert page.status_code == 200  # Django's "cannot delete: protected related objects" page
    assert Campaign.objects.filter(pk=campaign.pk).exists() and CallRecord.objects.count() == 2
    with pytest.raises(ProtectedError):
        Recipient.objects.filter(campaign=campaign).delete()
    draft = make_campaign(recipients=1)  # no call yet: a draft can still be deleted
    assert admin_client.post(f"/admin/campaigns/campaign/{draft.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Campaign.objects.filter(pk=draft.pk).exists()

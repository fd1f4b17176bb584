"""Saving a campaign or a template never undoes what services wrote meanwhile: a state change, a
lease, a recipient count, the vendor's verdict on a template."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import lifecycle, services, templates_service
from campaigns.admin import CampaignAdmin, VoiceTemplateAdmin
from campaigns.models import CallbackEvent, CallRecord, Campaign, RecipientImport, VoiceTemplate
from campaigns.receipts import reports
from tests.admin_forms import change_form_data
from tests.campaigns.test_templates import ihuyi_template
from tests.factories import make_campaign
from tests.fakes.ihuyi import FakeIhuyi
from tests.test_admin_pages import login
from vendors.adapters import ParsedCallback, TemplateReview

pytestmark = pytest.mark.django_db


def test_an_admin_edit_racing_a_pause_and_an_upload_keeps_both(admin_client, monkeypatch):
    campaign = make_campaign(recipients=2)
    services.launch(campaign)
    url = f"/admin/campaigns/campaign/{campaign.pk}/change/"
    sent = change_form_data(admin_client, url, name="双十一 回访", max_attempts=3)
    save_model = CampaignAdmin.save_model

    def pause_and_upload_between_read_and_write(self, request, obj, form, change):
        elsewhere = Campaign.objects.get(pk=campaign.pk)  # another operator, over the API
        services.add_recipients(elsewhere, [{"mobile": "13800138009", "variables": ["王先生", "SO9"]}])
        services.pause(elsewhere)
        save_model(self, request, obj, form, change)

    monkeypatch.setattr(CampaignAdmin, "save_model", pause_and_upload_between_read_and_write)
    response = admin_client.post(url, sent)
    assert response.status_code == 302, response.context["adminform"].form.errors
    saved = Campaign.objects.get(pk=campaign.pk)
    assert (saved.name, saved.max_attempts) == ("双十一 回访", 3)  # the operator's edit
    assert saved.state == "paused" and saved.recipient_count == 3  # not running again, no recipient lost


def scheduled_campaign_and_its_new_time():
    campaign = make_campaign(recipients=1)
    services.launch(campaign, at=timezone.now() + timedelta(hours=1))
    return campaign, (timezone.now() + timedelta(hours=3)).replace(microsecond=0)


def test_an_admin_rename_racing_a_reschedule_keeps_the_new_time(admin_client, monkeypatch):
    campaign, new_time = scheduled_campaign_and_its_new_time()
    url = f"/admin/campaigns/campaign/{campaign.pk}/change/"
    sent = change_form_data(admin_client, url, name="双十一 回访")
    save_model = CampaignAdmin.save_model

    def rescheduled_between_read_and_write(self, request, obj, form, change):
        services.launch(Campaign.objects.get(pk=campaign.pk), at=new_time)  # over the API, meanwhile
        save_model(self, request, obj, form, change)

    monkeypatch.setattr(CampaignAdmin, "save_model", rescheduled_between_read_and_write)
    response = admin_client.post(url, sent)
    assert response.status_code == 302, response.context["adminform"].form.errors
    saved = Campaign.objects.get(pk=campaign.pk)
    assert saved.name == "双十一 回访" and saved.scheduled_at == new_time and saved.state == "scheduled"


def test_a_page_opened_before_a_reschedule_and_saved_after_it_keeps_the_new_time(admin_client):
    campaign, new_time = scheduled_campaign_and_its_new_time()
    url = f"/admin/campaigns/campaign/{campaign.pk}/change/"
    sent = change_form_data(admin_client, url, name="双十一 回访", max_attempts=3)
    services.launch(Campaign.objects.get(pk=campaign.pk), at=new_time)  # while the operator types
    response = admin_client.post(url, sent)
    assert response.status_code == 302, response.context["adminform"].form.errors
    saved = Campaign.objects.get(pk=campaign.pk)
    assert (saved.name, saved.max_attempts, saved.scheduled_at) == ("双十一 回访", 3, new_time)


def test_a_start_time_the_operator_changes_is_written(admin_client):
    campaign, new_time = scheduled_campaign_and_its_new_time()
    url = f"/admin/campaigns/campaign/{campaign.pk}/change/"
    local = timezone.localtime(new_time)
    sent = change_form_data(
        admin_client, url, scheduled_at_0=local.date().isoformat(), scheduled_at_1=local.time().isoformat()
    )
    response = admin_client.post(url, sent)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Campaign.objects.get(pk=campaign.pk).scheduled_at == new_time


def test_a_stale_campaign_saved_after_it_completed_stays_completed():
    campaign = make_campaign(recipients=1)
    services.launch(campaign)
    stale = Campaign.objects.get(pk=campaign.pk)  # read while running (a shell, a service)
    CallRecord.objects.filter(campaign=campaign).update(state="answered", outcome="answered")
    assert lifecycle.complete_if_done(campaign.pk)
    stale.name = "renamed"
    stale.save()
    saved = Campaign.objects.get(pk=campaign.pk)
    assert saved.name == "renamed" and saved.state == "completed" and saved.completed_at is not None
    assert saved.launched_at is not None and saved.recipient_count == 1


def test_an_admin_edit_racing_the_vendors_verdict_keeps_the_verdict(admin_client, monkeypatch, start_fake):
    template = ihuyi_template(start_fake(FakeIhuyi()))
    assert templates_service.submit_template(template).ok  # pending review at the vendor
    url = f"/admin/campaigns/voicetemplate/{template.pk}/change/"
    sent = change_form_data(admin_client, url, name="登录验证码")
    save_model = VoiceTemplateAdmin.save_model

    def verdict_arrives_between_read_and_write(self, request, obj, form, change):
        review = TemplateReview(template.vendor_template_id, approved=True, message="通过", raw_code="2")
        assert reports.apply_template_reviews(template.account, ParsedCallback(template_reviews=[review])) == 1
        save_model(self, request, obj, form, change)

    monkeypatch.setattr(VoiceTemplateAdmin, "save_model", verdict_arrives_between_read_and_write)
    response = admin_client.post(url, sent)
    assert response.status_code == 302, response.context["adminform"].form.errors
    saved = VoiceTemplate.objects.get(pk=template.pk)
    assert saved.name == "登录验证码" and saved.review_state == "approved" and saved.review_message == "通过"
    assert saved.vendor_template_id == template.vendor_template_id


def test_an_import_page_is_read_only_so_it_never_writes_back_what_it_read(client):
    login(client, "Operators")  # they hold the change permission on imports
    job = RecipientImport.objects.create(
        campaign=make_campaign(), original_name="名单.csv", state="running", size_bytes=100
    )
    url = f"/admin/campaigns/recipientimport/{job.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200 and "名单.csv" in page.content.decode()
    assert not page.context["has_change_permission"]  # no Save button
    RecipientImport.objects.filter(pk=job.pk).update(state="done", rows=3, accepted=3)  # the import finishes
    assert client.post(url, {}).status_code == 403  # nothing to edit; a save would write the row back as read
    saved = RecipientImport.objects.get(pk=job.pk)
    assert (saved.state, saved.accepted) == ("done", 3)


def test_call_and_callback_event_pages_are_read_only_and_events_are_still_processed_again(client):
    login(client, "Operators")  # they hold the change permission on both
    campaign = make_campaign(recipients=1)
    services.launch(campaign)
    call = CallRecord.objects.get(campaign=campaign)
    event = CallbackEvent.objects.create(vendor="ihuyi", body=b"x", state="failed")
    for url in (f"/admin/campaigns/callrecord/{call.pk}/change/", f"/admin/campaigns/callbackevent/{event.pk}/change/"):
        page = client.get(url)
        assert page.status_code == 200 and not page.context["has_change_permission"], url  # no Save button
        assert client.post(url, {}).status_code == 403, url  # a save would write the row back as read
    processed = client.post(
        "/admin/campaigns/callbackevent/", {"action": "reprocess", "_selected_action": [event.pk]}, follow=True
    )
    assert processed.status_code == 200 and CallbackEvent.objects.get(pk=event.pk).processed_at is not None

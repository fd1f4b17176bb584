"""Vendor pushes through /api/callbacks/{vendor}/{token}/ with document-shaped payloads.

Each test dispatches real calls to a strict fake vendor, then posts what that vendor would push.
"""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import selectors, services
from campaigns.models import CallbackEvent, CallRecord, InboundReply, VoiceTemplate
from tests.callbacks.helpers import dispatched, push
from tests.factories import make_account, make_campaign
from tests.fakes.emay import FakeEmay
from tests.fakes.fungo import FakeFungo
from vendors import services as vendor_services


def test_ihuyi_receipt_applies_once_and_acks_success(client, ihuyi):
    fake, account = ihuyi
    campaign = dispatched(account)
    entry = fake.submitted[0]
    body, headers, query = fake.push_body(entry["vendor_message_id"], "2", talktime=17)
    for _ in range(3):  # ihuyi retries until it reads "success"
        response = push(client, account, body, headers, query)
        assert response.status_code == 200 and response.content == b"success"
    call = CallRecord.objects.get(vendor_message_id=entry["vendor_message_id"])
    assert (call.state, call.outcome, call.talk_seconds) == ("answered", "answered", 17)
    assert CallbackEvent.objects.filter(account=account).count() == 3
    assert selectors.campaign_stats(campaign)["by_state"] == {"answered": 1, "submitted": 2}


def test_a_late_failure_never_moves_an_answered_call_back(client, ihuyi):
    fake, account = ihuyi
    dispatched(account, recipients=1)
    voiceid = fake.submitted[0]["vendor_message_id"]
    assert push(client, account, *fake.push_body(voiceid, "2", talktime=5)).content == b"success"
    assert push(client, account, *fake.push_body(voiceid, "-1")).content == b"success"  # taken, stored, changes nothing
    assert CallRecord.objects.get(vendor_message_id=voiceid).state == "answered"
    assert CallbackEvent.objects.count() == 2


def test_forged_token_is_refused_and_changes_nothing(client, ihuyi):
    fake, account = ihuyi
    dispatched(account, recipients=1)
    body, headers, query = fake.push_body(fake.submitted[0]["vendor_message_id"], "2")
    response = push(client, account, body, headers, query, token="x" * 43)
    assert response.status_code == 403
    assert not CallbackEvent.objects.exists()
    assert CallRecord.objects.get().state == "submitted"


def test_rotated_token_keeps_working_for_the_grace_period(client, ihuyi):
    fake, account = ihuyi
    dispatched(account, recipients=2)
    old = account.callback_token
    vendor_services.rotate_callback_token(account, grace=timedelta(hours=1))
    first, second = fake.submitted[0]["vendor_message_id"], fake.submitted[1]["vendor_message_id"]
    assert push(client, account, *fake.push_body(first, "2"), token=old).status_code == 200
    assert push(client, account, *fake.push_body(first, "2")).status_code == 200
    account.previous_token_valid_until = timezone.now() - timedelta(seconds=1)
    account.save(update_fields=["previous_token_valid_until"])
    assert push(client, account, *fake.push_body(second, "2"), token=old).status_code == 403


def test_unknown_message_is_kept_for_reconciliation_and_acknowledged(client, ihuyi):
    fake, account = ihuyi
    dispatched(account, recipients=1)
    fake.by_voiceid["999999"] = dict(fake.submitted[0], vendor_message_id="999999")
    response = push(client, account, *fake.push_body("999999", "2"))
    assert response.content == b"success"
    assert CallbackEvent.objects.get().state == CallbackEvent.State.UNMATCHED


def test_ihuyi_template_review_push_approves_the_template(client, ihuyi):
    fake, account = ihuyi
    template = VoiceTemplate.objects.create(
        account=account, name="t", content="验证码【code】", vendor_template_id="T42", review_state="pending"
    )
    fake.templates["T42"] = {"content": template.content, "status": "pending"}
    assert push(client, account, *fake.template_push_body("T42", approved=False, msg="含敏感词")).content == b"success"
    template.refresh_from_db()
    assert (template.review_state, template.review_message) == ("rejected", "含敏感词")


@pytest.mark.parametrize("encrypted", [False, True])
def test_emay_push_plain_and_encrypted(client, db, start_fake, encrypted):
    fake = start_fake(FakeEmay(auto_report=False))
    account = make_account(
        "emay",
        base_url=fake.url,
        api_id=fake.app_id,
        api_secret=fake.secret_key,
        options={"push_mode": "encrypted" if encrypted else "plain"},
    )
    dispatched(account, recipients=4, content="您的快递已到。")
    reports = [fake.report_for(entry) for entry in fake.submitted]
    response = push(client, account, *fake.push_body(reports, encrypted=encrypted))
    assert response.status_code == 200
    assert CallRecord.objects.filter(state__in=["answered", "failed"]).count() == 4


def test_emay_push_encrypted_with_another_key_is_refused(client, db, start_fake):
    fake = start_fake(FakeEmay(auto_report=False))
    account = make_account(
        "emay", base_url=fake.url, api_id=fake.app_id, api_secret=fake.secret_key, options={"push_mode": "encrypted"}
    )
    dispatched(account, recipients=2, content="您的快递已到。")
    reports = [fake.report_for(entry) for entry in fake.submitted]
    response = push(client, account, *fake.push_body(reports, encrypted=True, secret_key="WrongKey-0123456"))
    assert response.status_code == 400
    assert response.content.decode().startswith("rejected: emay push:")  # the reason, for whoever sets up the push
    assert CallbackEvent.objects.get().state == CallbackEvent.State.REFUSED  # kept raw, applied nothing
    assert not CallRecord.objects.filter(state__in=["answered", "failed"]).exists()


def test_fungo_status_push_and_inbound_reply(client, db, start_fake):
    fake = start_fake(FakeFungo())
    account = make_account(
        "fungo",
        base_url=fake.url,
        api_id="fungo-cp",
        api_secret="fungo-pass",
        options={"app_id": fake.app_id, "template_id": "1001"},
    )
    dispatched(account, recipients=2, content="【code】")
    body, headers, query = fake.push_body(status="0")
    assert push(client, account, body, headers, query).status_code == 200
    assert CallRecord.objects.filter(state="answered").count() == 2
    mobile = CallRecord.objects.first().mobile
    body, headers, query = fake.reply_body(mobile, "1")
    assert push(client, account, body, headers, query).status_code == 200
    reply = InboundReply.objects.get()
    assert (reply.mobile, reply.content, reply.call.mobile) == (mobile, "1", mobile)


def test_simulator_push_and_test_call(client, db, django_capture_on_commit_callbacks):
    account = make_account()
    campaign = make_campaign(recipients=2, account=account)
    with django_capture_on_commit_callbacks(execute=True):
        call = services.send_test_call(campaign, "139 0013 9000")
    call.refresh_from_db()
    assert (call.state, call.is_test, call.mobile) == ("submitted", True, "+8613900139000")
    report = {
        "vendor_message_id": call.vendor_message_id,
        "custom_id": call.custom_id,
        "code": "0",
        "message": "接通",
        "talk_seconds": 9,
    }
    body = json.dumps({"reports": [report]}, ensure_ascii=False)
    assert push(client, account, body.encode(), {"Content-Type": "application/json"}).status_code == 200
    call.refresh_from_db()
    assert call.state == "answered"
    assert selectors.campaign_stats(campaign)["total"] == 0  # test calls stay out of the figures


def test_a_push_skips_the_middleware_it_has_no_use_for(client, ihuyi):
    """No session, language or frame headers on a callback; the rest of the site keeps the whole stack."""
    fake, account = ihuyi
    dispatched(account, recipients=1)
    response = push(client, account, *fake.push_body(fake.submitted[0]["vendor_message_id"], "2"))
    assert (response.status_code, response.content) == (200, b"success")
    assert not {"X-Frame-Options", "Content-Language", "Vary"} & set(response.headers)
    assert CallRecord.objects.get().state == "answered"
    assert {"X-Frame-Options", "Content-Language", "Vary"} <= set(client.get("/admin/login/").headers)
    unslashed = client.get(f"/api/callbacks/ihuyi/{account.callback_token}")  # not a callback URL: the stack
    assert unslashed.status_code == 404  # no redirect under /api/ (a POST would lose its body): the right URL said
    assert f"/api/callbacks/ihuyi/{account.callback_token}/" in unslashed.json()["errors"][0]["detail"]

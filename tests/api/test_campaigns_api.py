"""Campaigns over REST: create, read, the lifecycle actions, statistics and the call list."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from campaigns.models import CallRecord, Campaign, VoiceTemplate
from tests.api.helpers import client_for, error_text, errors, field_errors, run_until_done
from tests.factories import make_account, make_campaign

CAMPAIGN_FIELDS = {
    "id",
    "name",
    "account",
    "fallback_account",
    "product",
    "template",
    "content",
    "state",
    "scheduled_at",
    "quiet_hours_start",
    "quiet_hours_end",
    "rate_limit_per_second",
    "max_attempts",
    "retry_delay_minutes",
    "retry_outcomes",
    "report_window_minutes",
    "created_at",
    "launched_at",
    "completed_at",
    "not_dialling",
    "calls_start_at",
}


@pytest.fixture
def marketing(db):
    return client_for("Marketing")


@pytest.fixture
def operator(db):
    return client_for("Operators")


def url(campaign, action=""):
    return f"/api/campaigns/{campaign.pk}/" + (f"{action}/" if action else "")


# ---- create and read
def test_create_a_campaign_with_a_template(marketing):
    account = make_account()
    template = VoiceTemplate.objects.create(
        account=account, name="t", content="您的验证码是【code】", review_state="approved"
    )
    response = marketing.post(
        "/api/campaigns/",
        {
            "name": "验证码",
            "account": account.pk,
            "template": template.pk,
            "product": "verify",
            "max_attempts": 3,
            "retry_outcomes": ["busy", "no_answer"],
            "quiet_hours_start": "09:00",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == CAMPAIGN_FIELDS
    assert (body["state"], body["product"], body["max_attempts"], body["quiet_hours_start"]) == (
        "draft",
        "verify",
        3,
        "09:00:00+08:00",  # a time of day with its offset (RFC 3339), on Beijing time
    )
    campaign = Campaign.objects.get(pk=body["id"])
    assert campaign.created_by == response.wsgi_request.user
    assert campaign.retry_outcomes == ["busy", "no_answer"]
    assert str(campaign.quiet_hours_start) == "09:00:00"


def test_a_time_of_day_with_another_offset_is_converted_to_beijing_time(marketing):
    payload = {"name": "c", "account": make_account().pk, "content": "x", "quiet_hours_end": "12:30:00Z"}
    response = marketing.post("/api/campaigns/", payload, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["quiet_hours_end"] == "20:30:00+08:00"


def test_create_with_content_only_and_read_it_back(marketing):
    account = make_account()
    created = marketing.post(
        "/api/campaigns/", {"name": "通知", "account": account.pk, "content": "【name】您好"}, format="json"
    )
    assert created.status_code == 201, created.json()
    listed = marketing.get("/api/campaigns/").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == created.json()["id"]
    one = marketing.get(f"/api/campaigns/{created.json()['id']}/")
    assert one.status_code == 200 and one.json()["content"] == "【name】您好"
    assert marketing.get("/api/campaigns/?state=running").json()["count"] == 0
    assert marketing.get("/api/campaigns/?state=draft").json()["count"] == 1


def test_template_of_another_account_is_refused_with_the_reason(marketing):
    account, other = make_account(), make_account()
    template = VoiceTemplate.objects.create(account=other, name="t", content="x", review_state="approved")
    response = marketing.post(
        "/api/campaigns/", {"name": "c", "account": account.pk, "template": template.pk}, format="json"
    )
    assert response.status_code == 400
    assert field_errors(response, "non_field_errors") == ["The template belongs to another vendor account."]
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({}, "non_field_errors"),  # neither template nor content
        ({"content": "x", "retry_outcomes": ["bogus"]}, "retry_outcomes"),
        ({"content": "x", "rate_limit_per_second": 0}, "rate_limit_per_second"),
        ({"content": "x", "product": "fax"}, "product"),
        ({"content": "x", "account": 999999}, "account"),
    ],
)
def test_invalid_campaigns_are_refused_field_by_field(marketing, extra, field):
    payload = {"name": "c", "account": make_account().pk, **extra}
    response = marketing.post("/api/campaigns/", payload, format="json")
    assert response.status_code == 400
    assert field_errors(response, field)


def test_unknown_campaign_is_a_json_404(operator):
    response = operator.get("/api/campaigns/999999/")
    assert response.status_code == 404
    assert errors(response)[0]["code"] == "not_found"
    assert operator.post("/api/campaigns/999999/launch/").status_code == 404


# ---- lifecycle
def test_launch_pause_resume_cancel(marketing):
    campaign = make_campaign(recipients=3)
    launched = marketing.post(url(campaign, "launch"))
    assert launched.status_code == 200, launched.json()
    assert launched.json()["state"] == "running" and launched.json()["launched_at"]
    assert CallRecord.objects.filter(campaign=campaign, state="queued").count() == 3

    assert marketing.post(url(campaign, "pause")).json()["state"] == "paused"
    again = marketing.post(url(campaign, "pause"))
    assert again.status_code == 409
    assert "paused" in error_text(again).lower() and errors(again)[0]["code"] == "conflict"
    assert marketing.post(url(campaign, "resume")).json()["state"] == "running"
    assert marketing.post(url(campaign, "resume")).status_code == 409

    cancelled = marketing.post(url(campaign, "cancel"))
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled" and cancelled.json()["completed_at"]
    assert CallRecord.objects.filter(campaign=campaign, state="cancelled").count() == 3
    for action in ("launch", "pause", "resume", "cancel"):
        refused = marketing.post(url(campaign, action))
        assert refused.status_code == 409, action
        assert errors(refused)[0]["code"] == "conflict"
    assert Campaign.objects.get(pk=campaign.pk).state == "cancelled"


def test_launch_without_recipients_or_approval_is_a_409_that_says_why(marketing):
    empty = make_campaign()
    response = marketing.post(url(empty, "launch"))
    assert response.status_code == 409
    assert error_text(response) == "Add recipients before launching."

    campaign = make_campaign(recipients=1, account=make_account("ihuyi"))  # ihuyi reviews templates
    VoiceTemplate.objects.filter(pk=campaign.template_id).update(review_state="pending")
    response = marketing.post(url(campaign, "launch"))
    assert response.status_code == 409
    assert "not approved" in error_text(response)
    assert Campaign.objects.get(pk=campaign.pk).state == "draft"


def test_launch_at_a_time_schedules_and_resume_keeps_the_schedule(marketing):
    campaign = make_campaign(recipients=2)
    at = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    response = marketing.post(url(campaign, "launch"), {"at": at.isoformat()}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "scheduled"
    assert parse_datetime(response.json()["scheduled_at"]) == at
    assert marketing.post(url(campaign, "pause")).json()["state"] == "paused"
    assert marketing.post(url(campaign, "resume")).json()["state"] == "scheduled"


def test_a_start_time_set_at_creation_is_kept_by_launch(marketing):
    at = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    campaign = make_campaign(recipients=1, scheduled_at=at)
    response = marketing.post(url(campaign, "launch"), format="json")
    assert response.json()["state"] == "scheduled"
    assert parse_datetime(response.json()["scheduled_at"]) == at


def test_launch_with_a_bad_time_is_a_400(marketing):
    campaign = make_campaign(recipients=1)
    response = marketing.post(url(campaign, "launch"), {"at": "tomorrow-ish"}, format="json")
    assert response.status_code == 400
    assert field_errors(response, "at")
    assert Campaign.objects.get(pk=campaign.pk).state == "draft"


def test_run_on_the_simulator_then_stats_and_retry_failed(operator):
    account = make_account(
        options={"seed": 5, "answer_rate": 0.5, "report_delay": [0, 0]},
        pull_reports=True,
        price_per_unit=Decimal("0.1000"),
    )
    campaign = make_campaign(recipients=12, account=account, max_attempts=1)
    assert operator.post(url(campaign, "launch")).status_code == 200
    campaign = run_until_done(campaign)
    assert campaign.state == Campaign.State.COMPLETED

    stats = operator.get(url(campaign, "stats"))
    assert stats.status_code == 200
    body = stats.json()
    for key in (
        "total",
        "by_state",
        "by_outcome",
        "answered",
        "answer_rate",
        "avg_talk_seconds",
        "billed_units",
        "cost",
        "attempts",
        "first_submitted_at",
        "last_reported_at",
        "timeline",
    ):
        assert key in body, key
    calls = CallRecord.objects.filter(campaign=campaign)
    answered = calls.filter(state="answered").count()
    assert 0 < answered < 12, "seed 5 at 50% answers some, not all"
    units = calls.aggregate(u=Sum("billed_units"))["u"] or 0
    talk = calls.filter(state="answered").aggregate(t=Sum("talk_seconds"))["t"]
    assert body["total"] == body["attempts"] == 12
    assert body["recipients"] == 12
    assert body["by_state"] == {row["state"]: row["n"] for row in calls.values("state").annotate(n=Count("id"))}
    assert body["by_outcome"] == {row["outcome"]: row["n"] for row in calls.values("outcome").annotate(n=Count("id"))}
    assert body["answered"] == answered
    assert body["answer_rate"] == round(answered / 12, 4)
    assert body["avg_talk_seconds"] == round(talk / answered, 1)
    assert body["billed_units"] == units
    assert body["cost"] == str((Decimal("0.1") * units).quantize(Decimal("0.01")))
    assert sum(slot["answered"] + slot["not_answered"] for slot in body["timeline"]) == 12
    assert parse_datetime(body["first_submitted_at"]) <= parse_datetime(body["last_reported_at"])

    failed = calls.filter(state="failed").count()
    retried = operator.post(url(campaign, "retry-failed"))
    assert retried.status_code == 200
    assert retried.json()["state"] == "running"
    assert CallRecord.objects.filter(campaign=campaign, attempt=2, state="queued").count() == failed


def test_stats_of_a_fresh_campaign(operator):
    campaign = make_campaign(recipients=2)
    body = operator.get(url(campaign, "stats")).json()
    assert (body["total"], body["answered"], body["answer_rate"], body["cost"], body["timeline"]) == (
        0,
        0,
        None,
        None,
        [],
    )
    assert body["recipients"] == 2


# ---- calls
@pytest.fixture
def run_campaign(db):
    account = make_account(options={"seed": 7, "answer_rate": 0.5, "report_delay": [0, 0]}, pull_reports=True)
    campaign = make_campaign(recipients=7, account=account, max_attempts=2, retry_delay_minutes=0)
    from campaigns import services

    services.launch(campaign)
    return run_until_done(campaign)


def test_calls_list_fields_and_filters(operator, run_campaign):
    campaign = run_campaign
    response = operator.get(url(campaign, "calls"))
    assert response.status_code == 200
    body = response.json()
    rows = body["results"]
    total = CallRecord.objects.filter(campaign=campaign).count()
    assert len(rows) == total > 7, "some calls were retried"
    assert set(rows[0]) == {
        "id",
        "recipient",
        "attempt",
        "mobile",
        "custom_id",
        "vendor_message_id",
        "batch_id",
        "state",
        "outcome",
        "raw_code",
        "raw_message",
        "talk_seconds",
        "billed_seconds",
        "billed_units",
        "key_pressed",
        "submitted_at",
        "reported_at",
        "is_test",
    }
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)

    answered = operator.get(url(campaign, "calls"), {"state": "answered"}).json()["results"]
    assert answered and all(r["state"] == "answered" for r in answered)
    assert len(answered) == CallRecord.objects.filter(campaign=campaign, state="answered").count()
    no_answer = operator.get(url(campaign, "calls"), {"outcome": "no_answer"}).json()["results"]
    assert len(no_answer) == CallRecord.objects.filter(campaign=campaign, outcome="no_answer").count()
    second = operator.get(url(campaign, "calls"), {"attempt": 2}).json()["results"]
    assert second and all(r["attempt"] == 2 for r in second)


@pytest.mark.parametrize(
    "spelling", ["13800130001", "+86 138 0013 0001", "138-0013-0001", "008613800130001", "+8613800130001"]
)
def test_calls_filter_by_mobile_in_any_spelling(operator, run_campaign, spelling):
    rows = operator.get(url(run_campaign, "calls"), {"mobile": spelling}).json()["results"]
    assert rows and {r["mobile"] for r in rows} == {"+8613800130001"}


@pytest.mark.parametrize(
    ("mobile", "reason"),
    [("12345", "not a valid China mobile or landline number"), ("abc", "not a phone number"), ("", "empty")],
)
def test_calls_filter_by_a_text_that_is_no_number_is_a_400_saying_why(operator, run_campaign, mobile, reason):
    """Not an empty page, which reads as "never called": the caller learns the number is wrong."""
    response = operator.get(url(run_campaign, "calls"), {"mobile": mobile})
    assert response.status_code == 400
    assert reason in field_errors(response, "mobile")[0]


def test_calls_bad_filter_is_a_400_and_unknown_campaign_a_404(operator, run_campaign):
    response = operator.get(url(run_campaign, "calls"), {"state": "exploded"})
    assert response.status_code == 400
    assert field_errors(response, "state")
    assert operator.get(url(run_campaign, "calls"), {"attempt": "two"}).status_code == 400
    missing = operator.get("/api/campaigns/999999/calls/")
    assert missing.status_code == 404 and errors(missing)[0]["code"] == "not_found"


def test_calls_cursor_pagination_walks_every_row_once(operator, run_campaign):
    expected = list(CallRecord.objects.filter(campaign=run_campaign).order_by("-id").values_list("id", flat=True))
    seen, next_url, pages = [], url(run_campaign, "calls") + "?page_size=3", 0
    while next_url:
        page = operator.get(next_url).json()
        assert len(page["results"]) <= 3
        seen += [r["id"] for r in page["results"]]
        next_url, pages = page["next"], pages + 1
    assert seen == expected
    assert pages == -(-len(expected) // 3)
    # a call made after the first page was read does not shift the pages
    first = operator.get(url(run_campaign, "calls") + "?page_size=3").json()
    other = make_campaign(recipients=1)
    from campaigns import services

    services.launch(other)
    assert operator.get(first["next"]).json()["results"][0]["id"] == expected[3]

"""Adding recipients over REST: JSON at once, files in the background with a progress URL."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns import services
from campaigns.imports import ImportResult, set_progress
from campaigns.models import CallRecord, DoNotCallEntry, Recipient, RecipientImport
from tests.api.helpers import client_for, error_text, errors, field_errors
from tests.factories import make_campaign

CSV = (
    "手机号,name,order\n13800138000,王先生,SO1\n138-0013-8001,李女士,SO2\n"
    "+86 138 0013 8000,重复,SO3\n12345,坏号,SO4\n13900139000,,SO5\n"
)


@pytest.fixture(autouse=True)
def isolated(settings, tmp_path):
    """Uploaded files and import progress stay inside this test."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": str(tmp_path)}
    }


@pytest.fixture
def marketing(db):
    return client_for("Marketing")


def post_json(client, campaign, recipients):
    return client.post(f"/api/campaigns/{campaign.pk}/recipients/", {"recipients": recipients}, format="json")


def upload(client, campaign, name, content: bytes, capture):
    with capture(execute=True):  # the import task is enqueued on commit (eager Celery in tests)
        return client.post(
            f"/api/campaigns/{campaign.pk}/recipients/", {"file": SimpleUploadedFile(name, content)}, format="multipart"
        )


# ---- JSON
def test_json_import_answers_counts_and_rejected_lines(marketing):
    campaign = make_campaign()
    DoNotCallEntry.objects.create(mobile="+8613900139001")
    response = post_json(
        marketing,
        campaign,
        [
            {"mobile": "13800138000", "variables": ["王先生", "SO1"]},
            {"mobile": "+86 138-0013-8001", "variables": ["李女士", "SO2"]},
            {"mobile": "0086 13800138000", "variables": ["重复", "SO3"]},
            {"mobile": "12345", "variables": ["坏号", "SO4"]},
            {"mobile": "13900139000", "variables": ["缺变量"]},
            {"mobile": "13900139001", "variables": ["拉黑", "SO6"]},
            {"mobile": 13900139002, "variables": ["数字", 7]},
            {"variables": ["没号码", "SO8"]},
        ],
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert {k: body[k] for k in ("rows", "accepted", "invalid", "duplicates", "blocked")} == {
        "rows": 8,
        "accepted": 3,
        "invalid": 3,
        "duplicates": 1,
        "blocked": 1,
    }
    assert [row[:2] for row in body["rejected"]] == [
        [3, "0086 13800138000"],
        [4, "12345"],
        [5, "13900139000"],
        [6, "13900139001"],
        [8, ""],
    ]
    reasons = {row[0]: row[2] for row in body["rejected"]}
    assert reasons[3] == "duplicate number"
    assert reasons[4] == "not a valid China mobile or landline number"
    assert "needs 2 variable(s)" in reasons[5]
    assert reasons[6] == "on the do-not-call list"
    assert reasons[8] == "empty number"
    stored = dict(Recipient.objects.filter(campaign=campaign).values_list("mobile", "variables"))
    assert stored == {
        "+8613800138000": ["王先生", "SO1"],
        "+8613800138001": ["李女士", "SO2"],
        "+8613900139002": ["数字", "7"],
    }


def test_json_import_into_a_running_campaign_queues_the_new_calls(marketing):
    campaign = make_campaign(recipients=1)
    services.launch(campaign)
    response = post_json(marketing, campaign, [{"mobile": "13700137000", "variables": ["a", "b"]}])
    assert response.json()["accepted"] == 1
    assert CallRecord.objects.filter(campaign=campaign, state="queued").count() == 2


def test_more_than_ten_thousand_json_rows_are_refused_with_advice(marketing):
    campaign = make_campaign()
    rows = [{"mobile": f"138{i:08d}", "variables": ["a", "b"]} for i in range(10_001)]
    response = post_json(marketing, campaign, rows)
    assert response.status_code == 400
    message = field_errors(response, "recipients")[0]
    assert "10000" in message and "file" in message
    assert not Recipient.objects.filter(campaign=campaign).exists()


def test_ten_thousand_json_rows_are_fine(marketing):
    campaign = make_campaign()
    rows = [{"mobile": f"1380{i:07d}", "variables": ["a", "b"]} for i in range(10_000)]
    response = post_json(marketing, campaign, rows)
    assert response.status_code == 200
    assert response.json()["accepted"] == 10_000


def test_a_json_body_over_the_upload_limit_is_a_413_with_advice(marketing, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    campaign = make_campaign()
    response = post_json(marketing, campaign, [{"mobile": f"1380{i:07d}", "variables": ["a", "b"]} for i in range(500)])
    assert response.status_code == 413
    assert "file" in error_text(response) and errors(response)[0]["code"] == "payload_too_large"
    assert not Recipient.objects.filter(campaign=campaign).exists()


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"recipients": [{"mobile": "13800138000"}, "13800138001"]}, "line 2:"),
        ({"recipients": [{"mobile": "13800138000", "variables": "a,b"}]}, "line 1:"),
        ({"recipients": [{"mobile": ["13800138000"]}]}, "line 1:"),
        ({"recipients": []}, "empty"),
        ({"recipients": "13800138000"}, "list"),
        ({"numbers": ["13800138000"]}, "required"),
    ],
)
def test_unreadable_json_is_a_400_naming_the_line(marketing, payload, needle):
    campaign = make_campaign()
    response = marketing.post(f"/api/campaigns/{campaign.pk}/recipients/", payload, format="json")
    assert response.status_code == 400
    assert needle in " ".join(field_errors(response, "recipients"))
    assert not Recipient.objects.filter(campaign=campaign).exists()


def test_broken_json_is_a_json_400(marketing):
    campaign = make_campaign()
    response = marketing.post(
        f"/api/campaigns/{campaign.pk}/recipients/", b"{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert errors(response)[0]["code"] == "parse_error"


def test_recipients_cannot_be_added_to_a_cancelled_campaign(marketing):
    campaign = make_campaign(recipients=1)
    services.cancel(campaign)
    response = post_json(marketing, campaign, [{"mobile": "13700137000", "variables": ["a", "b"]}])
    assert response.status_code == 409
    assert "cancelled" in error_text(response).lower()
    assert Recipient.objects.filter(campaign=campaign).count() == 1


# ---- files
def test_gb18030_csv_upload_then_follow_the_progress_url(marketing, django_capture_on_commit_callbacks, settings):
    campaign = make_campaign()
    response = upload(marketing, campaign, "名单.csv", CSV.encode("gb18030"), django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["progress_url"] == f"/api/imports/{body['import']}/"
    assert response["Location"] == body["progress_url"]

    progress = marketing.get(body["progress_url"])
    assert progress.status_code == 200
    job = progress.json()
    assert job["state"] == "done", job["error"]
    assert (job["percent"], job["rows"], job["accepted"], job["duplicates"], job["invalid"], job["blocked"]) == (
        100,
        5,
        2,
        1,
        2,
        0,
    )
    assert job["file_name"] == "名单.csv" and job["campaign"] == campaign.pk
    assert [row[0] for row in job["rejected"]] == [4, 5, 6]
    assert job["rejected"][0][2] == "duplicate number"
    assert set(Recipient.objects.filter(campaign=campaign).values_list("mobile", flat=True)) == {
        "+8613800138000",
        "+8613800138001",
    }
    finished = RecipientImport.objects.get(pk=body["import"])
    assert finished.created_by.groups.filter(name="Marketing").exists()
    assert not finished.file and not list((settings.MEDIA_ROOT / "imports").rglob("*.csv"))  # the list is not kept


def test_xlsx_upload(marketing, django_capture_on_commit_callbacks, tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["mobile", "name", "order"])
    sheet.append([13800138000, "王", "SO1"])
    sheet.append(["13800138001", "李", "SO2"])
    path = tmp_path / "list.xlsx"
    workbook.save(path)
    campaign = make_campaign()
    response = upload(marketing, campaign, "list.xlsx", path.read_bytes(), django_capture_on_commit_callbacks)
    job = marketing.get(response.json()["progress_url"]).json()
    assert (job["state"], job["accepted"]) == ("done", 2)


def test_an_unreadable_file_fails_the_import_with_its_reason(marketing, django_capture_on_commit_callbacks):
    campaign = make_campaign()
    response = upload(marketing, campaign, "list.csv", b"\x00\x01\x02binary", django_capture_on_commit_callbacks)
    assert response.status_code == 202
    job = marketing.get(response.json()["progress_url"]).json()
    assert job["state"] == "failed"
    assert "binary" in job["error"]


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("list.pdf", b"%PDF-1.4", ".csv or .xlsx"),
        ("list.csv", b"", "empty"),
    ],
)
def test_wrong_or_empty_files_are_refused_at_once(marketing, django_capture_on_commit_callbacks, name, content, needle):
    campaign = make_campaign()
    response = upload(marketing, campaign, name, content, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert needle in field_errors(response, "file")[0]
    assert not RecipientImport.objects.exists()


def test_multipart_without_a_file_is_a_400(marketing):
    campaign = make_campaign()
    response = marketing.post(f"/api/campaigns/{campaign.pk}/recipients/", {"other": "x"}, format="multipart")
    assert response.status_code == 400
    assert field_errors(response, "file")


def test_progress_of_a_running_import_comes_from_the_cache(marketing):
    campaign = make_campaign()
    job = RecipientImport.objects.create(
        campaign=campaign, original_name="big.csv", size_bytes=1000, state=RecipientImport.State.RUNNING
    )
    before = marketing.get(f"/api/imports/{job.pk}/").json()
    assert (before["state"], before["percent"], before["rows"]) == ("running", 0, 0)
    set_progress(job.pk, 400, ImportResult(rows=20_000, accepted=19_990, invalid=10))
    live = marketing.get(f"/api/imports/{job.pk}/").json()
    assert (live["percent"], live["processed_bytes"], live["rows"], live["accepted"], live["invalid"]) == (
        40,
        400,
        20_000,
        19_990,
        10,
    )


def test_only_the_first_thousand_rejected_rows_are_shown(marketing):
    campaign = make_campaign()
    rows = [{"mobile": "12345", "variables": ["a", "b"]} for _ in range(1_500)]
    body = post_json(marketing, campaign, rows).json()
    assert body["invalid"] == 1_500
    assert len(body["rejected"]) == 1_000
    assert body["rejected"][-1][0] == 1_000
    job = RecipientImport.objects.create(
        campaign=campaign, original_name="x.csv", state="done", rejected_rows=[[i, "1", "bad"] for i in range(1, 1_501)]
    )
    assert len(marketing.get(f"/api/imports/{job.pk}/").json()["rejected"]) == 1_000


def test_finance_cannot_add_recipients_nor_see_imports(db):
    campaign = make_campaign()
    finance = client_for("Finance")
    assert post_json(finance, campaign, [{"mobile": "13800138000", "variables": ["a", "b"]}]).status_code == 403
    job = RecipientImport.objects.create(campaign=campaign, original_name="x.csv")
    assert finance.get(f"/api/imports/{job.pk}/").status_code == 403
    assert not Recipient.objects.filter(campaign=campaign).exists()

"""The do-not-call list: any spelling blocks every spelling, at import and again at dispatch;
imported and exported in bulk with the rejected rows reported (issue 11)."""

import csv
import io
from importlib import import_module

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import translation
from django.utils.translation import gettext
from openpyxl import load_workbook

from campaigns import services, tasks
from campaigns.models import CallRecord, DoNotCallEntry
from tests.factories import make_campaign
from tests.test_admin_pages import login

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/campaigns/donotcallentry/add/"
IMPORT_URL = "/admin/campaigns/donotcallentry/import/"


def test_an_entry_typed_with_spaces_blocks_the_number_in_a_later_import(client):
    """As reported: `137 0013 7000` was stored as typed and did not block 13700137000."""
    login(client, "Operators")
    response = client.post(ADD_URL, {"mobile": "137 0013 7000", "reason": "投诉"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(DoNotCallEntry.objects.values_list("mobile", flat=True)) == ["+8613700137000"]
    campaign = make_campaign()
    result = services.add_recipients(
        campaign,
        [{"mobile": "13700137000", "variables": ["王", "SO1"]}, {"mobile": "13800138000", "variables": ["李", "SO2"]}],
    )
    assert (result.accepted, result.blocked) == (1, 1)
    assert list(campaign.recipients.values_list("mobile", flat=True)) == ["+8613800138000"]


@pytest.mark.parametrize(
    ("typed", "reason"),
    [("hello", "not a phone number"), ("13800138001-123", "extension"), ("12345", "not a valid China")],
)
def test_text_that_is_not_a_number_is_refused_with_the_reason(client, typed, reason):
    login(client, "Operators")
    response = client.post(ADD_URL, {"mobile": typed, "reason": ""})
    assert response.status_code == 200  # the form again, with the error
    assert reason in response.content.decode()
    assert not DoNotCallEntry.objects.exists()


def test_the_same_number_in_another_spelling_is_a_duplicate(client):
    DoNotCallEntry.objects.create(mobile="+86 137-0013-7000")
    assert DoNotCallEntry.objects.get().mobile == "+8613700137000"
    login(client, "Operators")
    response = client.post(ADD_URL, {"mobile": "13700137000"})
    assert response.status_code == 200 and DoNotCallEntry.objects.count() == 1


def test_saving_anywhere_refuses_what_is_not_a_number():
    with pytest.raises(ValidationError, match="not a phone number"):
        DoNotCallEntry.objects.create(mobile="hello")


def test_an_entry_added_after_the_import_still_blocks_the_call():
    campaign = make_campaign(recipients=3)
    services.launch(campaign)
    DoNotCallEntry.objects.create(mobile="138 0013 0001", reason="后来加入")
    tasks.tick()
    blocked = CallRecord.objects.get(campaign=campaign, mobile="+8613800130001")
    assert blocked.state == "cancelled" and blocked.raw_code == "do_not_call"
    assert blocked.submitted_at is None  # never handed to the vendor
    assert CallRecord.objects.filter(campaign=campaign, state="submitted").count() == 2


def test_a_call_cancelled_for_the_list_keeps_the_stable_code_and_the_reason_in_the_operators_language():
    """raw_code is what programs match; raw_message is read by people, in the language of the house
    (the words the import uses for the same number), never an English note in a Chinese console."""
    campaign = make_campaign(recipients=1)
    services.launch(campaign)
    DoNotCallEntry.objects.create(mobile="13800130000")
    with translation.override("zh-hans"):
        tasks.tick()
    blocked = CallRecord.objects.get(campaign=campaign)
    assert (blocked.state, blocked.raw_code) == ("cancelled", "do_not_call")
    with translation.override("zh-hans"):
        assert blocked.raw_message == gettext("on the do-not-call list") != "on the do-not-call list"


def test_a_test_call_to_a_listed_number_is_refused():
    campaign = make_campaign(recipients=1)
    DoNotCallEntry.objects.create(mobile="13900139000")
    with pytest.raises(services.CampaignError, match="do-not-call"):
        services.send_test_call(campaign, "139 0013 9000")


def test_the_data_migration_normalizes_existing_entries():
    migration = import_module("campaigns.migrations.0008_normalize_do_not_call_clamp_settings")
    now_rows = [("137 0013 7000", "a"), ("+8613700137000", "b"), ("hello", ""), ("+8613800138000", "c")]
    DoNotCallEntry.objects.bulk_create([DoNotCallEntry(mobile=m, reason=r) for m, r in now_rows])  # as typed, before
    state = MigrationExecutor(connection).loader.project_state(
        ("campaigns", "0008_normalize_do_not_call_clamp_settings")
    )
    migration.normalize_entries(state.apps, None)  # the historical model: no normalizing save()
    entries = dict(DoNotCallEntry.objects.values_list("mobile", "reason"))
    assert set(entries) == {"+8613700137000", "+8613800138000", "hello"}
    assert set(entries["+8613700137000"].split("; ")) == {"a", "b"}
    assert "not a number" in entries["hello"]


def _upload(client, name, content, **extra):
    return client.post(IMPORT_URL, {"file": SimpleUploadedFile(name, content), **extra}, follow=True)


def test_bulk_import_reports_rejected_rows_inline_and_as_a_download(client):
    login(client, "Operators")
    DoNotCallEntry.objects.create(mobile="13800138000")
    text = "手机号,reason\n138 0013 8000,老\n137-0013-7000,投诉\n13600136000,\nhello,坏\n13800138001-123,分机\n"
    page = _upload(client, "dnc.csv", text.encode("gb18030"), reason="批量").content.decode()
    assert "2 numbers added, 1 already on the list, 2 rows rejected" in page
    assert "line 5 “hello”: not a phone number" in page and "line 6" in page and "extension" in page
    assert dict(DoNotCallEntry.objects.values_list("mobile", "reason")) == {
        "+8613800138000": "",
        "+8613700137000": "投诉",
        "+8613600136000": "批量",
    }
    link = page.split('href="/admin/campaigns/donotcallentry/rejected/')[1].split('"')[0]
    body = b"".join(client.get(f"/admin/campaigns/donotcallentry/rejected/{link}").streaming_content)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[1:] == [["5", "hello", "not a phone number"], ["6", "13800138001-123", rows[2][2]]]


def test_an_import_that_adds_nothing_is_a_failure_with_its_first_reasons(client):
    login(client, "Operators")
    page = _upload(client, "dnc.csv", "手机号\nhello\n1234\n".encode()).content.decode()
    assert "Nothing was added from “dnc.csv”: all 2 rows were rejected" in page
    assert "line 2 “hello”: not a phone number" in page and "line 3 “1234”" in page
    assert not DoNotCallEntry.objects.exists()


def test_export_then_import_round_trips(client):
    login(client, "Operators")
    DoNotCallEntry.objects.create(mobile="13700137000", reason="投诉")
    DoNotCallEntry.objects.create(mobile="13600136000", reason="=HYPERLINK(x)")
    exported = client.get("/admin/campaigns/donotcallentry/export.xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(exported.streaming_content))).active
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert {v[0] for v in values} == {"'+8613700137000", "'+8613600136000"}
    csv_body = b"".join(client.get("/admin/campaigns/donotcallentry/export.csv").streaming_content)
    DoNotCallEntry.objects.all().delete()
    page = _upload(client, "export.csv", csv_body).content.decode()
    assert "2 numbers added" in page
    assert set(DoNotCallEntry.objects.values_list("mobile", flat=True)) == {"+8613700137000", "+8613600136000"}


def test_marketing_may_import_and_finance_may_not(client):
    login(client, "Finance")
    assert _upload(client, "dnc.csv", b"13700137000\n").status_code == 403
    client.logout()
    login(client, "Marketing", name="mk")
    assert "1 numbers added" in _upload(client, "dnc.csv", b"13700137000\n").content.decode()
    assert DoNotCallEntry.objects.get().mobile == "+8613700137000"


def test_search_finds_a_number_typed_in_any_spelling(client):
    login(client, "Operators")
    DoNotCallEntry.objects.create(mobile="13700137000", reason="投诉")
    page = client.get("/admin/campaigns/donotcallentry/", {"q": "137 0013 7000"}).content.decode()
    assert "+8613700137000" in page


def test_a_recipient_file_with_excel_text_markers_is_read(tmp_path):
    """Sibling: the CSV reader took Excel's apostrophe ('+86…, as our exports write) for a quote
    character and read each line as one cell."""
    from campaigns.readers import open_rows
    from campaigns.services import _numbered

    path = tmp_path / "list.csv"
    path.write_text("手机号,name,order\n'+8613800138000,王,SO1\n'+8613800138001,李,'=SO2\n", encoding="utf-8")
    rows, _counter = open_rows(path, "list.csv")
    assert list(_numbered(rows, ["name", "order"])) == [
        (2, "'+8613800138000", ["王", "SO1"]),
        (3, "'+8613800138001", ["李", "'=SO2"]),
    ]
    campaign = make_campaign()
    result = services.add_recipients(campaign, [{"mobile": "'+8613800138000", "variables": ["王", "SO1"]}])
    assert result.accepted == 1

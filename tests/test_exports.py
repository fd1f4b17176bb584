"""Exports: CSV with a UTF-8 BOM and XLSX, safe against spreadsheet formula injection."""

import csv
import io
from datetime import datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from campaigns import exports, services
from campaigns.models import CallRecord, RecipientImport
from tests.factories import make_campaign

DANGEROUS = ["=1+1", "+8613800138000", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd", '=HYPERLINK("http://evil","x")']


@pytest.mark.parametrize("value", DANGEROUS)
def test_formula_prefixes_are_neutralised(value):
    assert exports.safe_text(value) == "'" + value
    assert exports.csv_cell(value) == "'" + value
    assert exports.xlsx_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["13800138000", "王先生", "a=b", "", "SO-1"])
def test_plain_text_is_left_alone(value):
    assert exports.csv_cell(value) == value


def test_numbers_and_dates_stay_typed():
    assert exports.csv_cell(-5) == "-5"  # a number is not text: nothing to neutralise
    assert exports.xlsx_cell(-5) == -5
    assert exports.xlsx_cell(Decimal("1.50")) == Decimal("1.50")
    assert exports.csv_cell(None) == "" and exports.xlsx_cell(None) is None
    from django.utils import timezone

    moment = timezone.make_aware(datetime(2026, 11, 11, 8, 30))
    assert exports.csv_cell(moment) == "2026-11-11 08:30:00"
    assert exports.xlsx_cell(moment) == datetime(2026, 11, 11, 8, 30)


def test_csv_has_a_bom_and_chinese_survives():
    text = "".join(exports.csv_lines(["号码", "姓名"], [["+8613800138000", "王先生"], ["=cmd|' /C calc'!A0", "李"]]))
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows == [["号码", "姓名"], ["'+8613800138000", "王先生"], ["'=cmd|' /C calc'!A0", "李"]]
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbf")


def test_xlsx_cells_are_text_never_formulas(tmp_path):
    path = tmp_path / "x.xlsx"
    with open(path, "wb") as fh:
        exports.write_xlsx(fh, ["号码", "n"], [[v, i] for i, v in enumerate(DANGEROUS)], title="测试")
    sheet = load_workbook(path).active
    assert sheet.title == "测试"
    values = [row for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert [v for v, _n in values] == ["'" + v.replace("\r", "\n") for v in DANGEROUS]  # XML reads CR as LF
    assert [n for _v, n in values] == list(range(len(DANGEROUS)))
    for row in sheet.iter_rows(min_row=2):
        assert row[0].data_type == "s"  # a string cell: no spreadsheet evaluates it


def test_campaign_calls_export_csv_and_xlsx(admin_client, tmp_path):
    campaign = make_campaign(recipients=3)
    services.launch(campaign)
    CallRecord.objects.filter(campaign=campaign).update(
        state="failed", outcome="busy", raw_code="-4", raw_message="=正在通话"
    )
    response = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/calls.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) == 4
    header = rows[0]
    line = dict(zip(header, rows[1], strict=True))
    assert line["number"].startswith("'+86138")
    assert line["vendor code"] == "'-4" and line["vendor message"] == "'=正在通话"
    assert line["outcome"] == "Busy" and line["state"] == "Failed"

    response = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/calls.xlsx")
    path = tmp_path / "calls.xlsx"
    path.write_bytes(b"".join(response.streaming_content))
    sheet = load_workbook(path).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 4 and rows[1][1].startswith("'+86138") and rows[1][2] == 1


def test_export_streams_in_chunks(admin_client, monkeypatch):
    campaign = make_campaign(recipients=25)
    services.launch(campaign)
    monkeypatch.setattr(exports, "CHUNK", 10)
    response = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/calls.csv")
    assert response.streaming
    chunks = list(response.streaming_content)
    assert len(chunks) == 26  # header + one per row, written as they are read


def test_rejected_rows_export(db):
    campaign = make_campaign()
    job = RecipientImport.objects.create(
        campaign=campaign,
        file="x",
        original_name="名单.csv",
        state="done",
        rejected_rows=[[2, "+86 12345", "not a phone number"], [3, "@x", "not a phone number"]],
    )
    response = exports.export_rejected(job, "csv")
    assert "rejected-" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text))) == [
        ["line", "number as given", "reason"],
        ["2", "'+86 12345", "not a phone number"],
        ["3", "'@x", "not a phone number"],
    ]


def test_unknown_format_is_not_routed(admin_client):
    campaign = make_campaign()
    response = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/calls.json", follow=True)
    assert "attachment" not in response.get("Content-Disposition", "")

"""Hostile and broken recipient files: a clear message, bounded memory and time, nothing half-imported.

Every file goes through the real path (``services.start_file_import`` → the import task, eager in
tests → ``readers`` → ``imports.import_rows`` with COPY on PostgreSQL). A refused file leaves the
campaign exactly as it was (it already holds one recipient, so "unchanged" means something), and
its ``RecipientImport`` says why in words a user can act on; a rejected row says why in its reason.
"""

from __future__ import annotations

import codecs
import io
import random
import struct
import time
import tracemalloc
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.files import File
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from campaigns import exports, imports, services
from campaigns.models import Recipient, RecipientImport
from tests.api.helpers import client_for, field_errors
from tests.factories import make_campaign

HEADER = "手机号,name,order\n"
GOOD_ROWS = "13800138000,王先生,SO1\n13800138001,李女士,SO2\n"
FAST = 10.0  # seconds any import of these files may take, refused or not
MB = 1024 * 1024


@pytest.fixture(autouse=True)
def isolated(settings, tmp_path):
    """Uploaded files and import progress stay inside this test."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": str(tmp_path)}
    }


@pytest.fixture(autouse=True)
def no_big_leftovers(tmp_path):
    """The 200 MB files (and their stored copies) go when the test ends: pytest keeps old tmp dirs."""
    yield
    for path in sorted(tmp_path.rglob("*"), reverse=True):
        if path.is_file() and path.stat().st_size > MB:
            path.unlink()


@pytest.fixture
def campaign(db):
    """A campaign with two variables (name, order) that already holds one recipient."""
    campaign = make_campaign()
    services.add_recipients(campaign, [{"mobile": "13900139000", "variables": ["原有", "SO0"]}])
    return campaign


@pytest.fixture
def run_import(django_capture_on_commit_callbacks):
    """Upload a file (bytes or a path on disk) and run its import; answers (job, seconds)."""

    def run(campaign, name: str, content: bytes | Path) -> tuple[RecipientImport, float]:
        started = time.monotonic()
        if isinstance(content, Path):
            with open(content, "rb") as fh, django_capture_on_commit_callbacks(execute=True):
                job = services.start_file_import(campaign, File(fh, name=name))
        else:
            with django_capture_on_commit_callbacks(execute=True):
                job = services.start_file_import(campaign, SimpleUploadedFile(name, content))
        job.refresh_from_db()
        return job, time.monotonic() - started

    return run


@contextmanager
def python_memory():
    """Peak growth of Python allocations inside the block, in MB (``tracemalloc``)."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    figures = {}
    try:
        yield figures
    finally:
        figures["peak_mb"] = (tracemalloc.get_traced_memory()[1] - base) / MB
        tracemalloc.stop()


def numbers(campaign) -> set[str]:
    return set(Recipient.objects.filter(campaign=campaign).values_list("mobile", flat=True))


def assert_refused(job: RecipientImport, campaign, *needles: str) -> None:
    """Failed, with a message naming the problem, and the campaign exactly as it was."""
    assert job.state == RecipientImport.State.FAILED, (job.state, job.error, job.rejected_rows[:5])
    for needle in needles:
        assert needle in job.error, job.error
    assert job.accepted == 0
    assert numbers(campaign) == {"+8613900139000"}
    campaign.refresh_from_db()
    assert campaign.recipient_count == 1


def assert_done(job: RecipientImport, accepted: int) -> None:
    assert job.state == RecipientImport.State.DONE, job.error
    assert job.accepted == accepted, job.rejected_rows[:5]


# ---- encodings
@pytest.mark.parametrize(
    ("encoding", "content"),
    [
        ("utf-8", HEADER + GOOD_ROWS),
        ("utf-8-sig", HEADER + GOOD_ROWS),
        ("gb18030", HEADER + GOOD_ROWS),
        ("utf-16", HEADER + GOOD_ROWS),  # with its BOM
    ],
)
def test_the_encodings_excel_saves_are_read(campaign, run_import, encoding, content):
    job, seconds = run_import(campaign, "名单.csv", content.encode(encoding))
    assert_done(job, 2)
    assert dict(
        Recipient.objects.filter(campaign=campaign, mobile="+8613800138000").values_list("mobile", "variables")
    ) == {"+8613800138000": ["王先生", "SO1"]}


@pytest.mark.parametrize(
    ("codec", "needles"),
    [
        ("utf-16-le", ["UTF-16", "CSV UTF-8"]),  # no BOM
        ("utf-16-be", ["UTF-16", "CSV UTF-8"]),
        ("utf-32-le", ["binary"]),
    ],
)
def test_utf16_without_a_bom_is_refused_with_what_to_do(campaign, run_import, codec, needles):
    job, seconds = run_import(campaign, "list.csv", (HEADER + GOOD_ROWS).encode(codec))
    assert_refused(job, campaign, *needles)
    assert seconds < FAST


@pytest.mark.parametrize(
    ("codec", "text"),
    [
        (
            "shift_jis",
            "電話番号,名前,注文\n13800138000,山田太郎,SO1\n13800138001,佐藤花子,SO2\n13800138002,鈴木一郎,SO3\n",
        ),
        ("big5", "手機號碼,姓名,訂單\n13800138000,陳大文,SO1\n13800138001,林美玲,SO2\n13800138002,黃志強,SO3\n"),
    ],
)
def test_a_file_in_another_cjk_encoding_is_refused_not_imported_as_mojibake(campaign, run_import, codec, text):
    job, seconds = run_import(campaign, "list.csv", text.encode(codec))
    assert_refused(job, campaign, "GB18030", "CSV UTF-8")


def test_traditional_chinese_saved_as_gbk_is_still_read(campaign, run_import):
    """The check above must not refuse real Chinese that is not simplified (Hong Kong and Taiwan names)."""
    text = "手機號碼,姓名,訂單\n13800138000,陳大文,訂單一\n13800138001,黃志強,訂單二\n13800138002,鄭淑芬,訂單三\n"
    job, seconds = run_import(campaign, "list.csv", text.encode("gbk"))
    assert_done(job, 3)
    assert Recipient.objects.get(campaign=campaign, mobile="+8613800138001").variables == ["黃志強", "訂單二"]


def test_random_bytes_are_refused(campaign, run_import):
    rng = random.Random(7)
    junk = bytes(rng.randrange(1, 256) for _ in range(200_000))  # no NUL: it has to fail on decoding
    job, seconds = run_import(campaign, "list.csv", junk)
    assert_refused(job, campaign, "encoding", "CSV UTF-8")
    assert seconds < FAST


# ---- binary junk
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("list.csv", PNG, "binary file"),
        ("list.xlsx", PNG, "damaged or not an Excel workbook"),
        ("list.txt", b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 100, "binary file"),
    ],
)
def test_binary_junk_with_a_list_name_is_refused(campaign, run_import, name, content, needle):
    job, seconds = run_import(campaign, name, content)
    assert_refused(job, campaign, needle)


def test_a_zip_that_is_not_a_workbook_is_refused(campaign, run_import):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    job, seconds = run_import(campaign, "list.xlsx", buffer.getvalue())
    assert_refused(job, campaign, ".xlsx file cannot be opened")


# ---- XLSX bombs
def random_letters(size: int, seed: int = 5) -> bytes:
    """``size`` random lower-case letters (text that does not compress much)."""
    table = bytes(ord("a") + i % 26 for i in range(256))
    return random.Random(seed).randbytes(size).translate(table)


def workbook(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


SHARED_STRINGS_TYPE = (
    b'<Override PartName="/xl/sharedStrings.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
)


def rebuilt(xlsx: bytes, path: Path, name: str, head: bytes, filler: bytes, repeat: int, tail: bytes) -> Path:
    """The workbook with entry ``name`` replaced by head + filler × repeat + tail, streamed (never in memory).

    A shared-strings entry is also registered in ``[Content_Types].xml``, so openpyxl reads it.
    """
    with (
        zipfile.ZipFile(io.BytesIO(xlsx)) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out,
    ):
        for info in source.infolist():
            data = source.read(info)
            if (
                info.filename == "[Content_Types].xml"
                and name == "xl/sharedStrings.xml"
                and b"sharedStrings" not in data
            ):
                data = data.replace(b"</Types>", SHARED_STRINGS_TYPE + b"</Types>")
            if info.filename != name:
                out.writestr(info, data)
        with out.open(name, "w") as fh:
            fh.write(head)
            for _ in range(repeat):
                fh.write(filler)
            fh.write(tail)
    return path


def lie_about_size(path: Path, name: str, declared: int) -> None:
    """Rewrite the central directory so entry ``name`` claims to expand to ``declared`` bytes."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        start = archive.start_dir
    offset = start
    while data[offset : offset + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, offset + 28)
        if bytes(data[offset + 46 : offset + 46 + name_len]).decode() == name:
            struct.pack_into("<I", data, offset + 24, declared)
        offset += 46 + name_len + extra_len + comment_len
    path.write_bytes(bytes(data))


SST_HEAD = b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>'
SST_TAIL = b"</t></si></sst>"
SHEET = "xl/worksheets/sheet1.xml"
SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>13800138000</t></is></c><c r="B1" t="inlineStr"><is><t>'
)
SHEET_TAIL = b"</t></is></c></row></sheetData></worksheet>"


def test_an_xlsx_zip_bomb_is_refused_before_it_expands(campaign, run_import, tmp_path):
    """A 600 MB cell in a file of under 3 MB: openpyxl would build it whole in memory."""
    source = workbook([["mobile", "name", "order"], ["13800138000", "王", "SO1"]])
    bomb = rebuilt(source, tmp_path / "bomb.xlsx", SHEET, SHEET_HEAD, b"A" * MB, 600, SHEET_TAIL)
    assert bomb.stat().st_size < 5 * MB
    with python_memory() as memory:
        job, seconds = run_import(campaign, "bomb.xlsx", bomb)
    assert_refused(job, campaign, "expands to an unreasonable size", "CSV")
    assert seconds < FAST and memory["peak_mb"] < 50, (seconds, memory)


def test_an_xlsx_that_lies_about_its_sizes_is_refused_without_expanding(campaign, run_import, tmp_path):
    """The central directory claims 1 KB; the data inflates to 300 MB. Reading stops at the claim."""
    source = workbook([["mobile", "name", "order"], ["13800138000", "王", "SO1"]])
    bomb = rebuilt(source, tmp_path / "liar.xlsx", SHEET, SHEET_HEAD, b"A" * MB, 300, SHEET_TAIL)
    lie_about_size(bomb, SHEET, 1024)
    with python_memory() as memory:
        job, seconds = run_import(campaign, "liar.xlsx", bomb)
    assert_refused(job, campaign, ".xlsx file cannot be opened")
    assert seconds < FAST and memory["peak_mb"] < 50, (seconds, memory)


def test_an_xlsx_with_thousands_of_entries_is_refused(campaign, run_import, tmp_path):
    path = tmp_path / "many.xlsx"
    with (
        zipfile.ZipFile(io.BytesIO(workbook([["13800138000", "王", "SO1"]]))) as source,
        zipfile.ZipFile(path, "w") as out,
    ):
        for info in source.infolist():
            out.writestr(info, source.read(info))
        for i in range(5_000):
            out.writestr(f"xl/media/pad{i}.bin", b"")
    job, seconds = run_import(campaign, "many.xlsx", path)
    assert_refused(job, campaign, "unreasonable size")


def test_an_xlsx_with_too_much_text_is_refused(campaign, run_import, tmp_path, monkeypatch):
    from campaigns import readers

    monkeypatch.setattr(readers, "MAX_XLSX_SHARED_STRINGS", 2 * MB)
    source = workbook([["mobile", "name", "order"], ["13800138000", "王", "SO1"]])
    filler = random_letters(MB)  # random: not a ratio bomb
    path = rebuilt(source, tmp_path / "text.xlsx", "xl/sharedStrings.xml", SST_HEAD, filler, 3, SST_TAIL)
    job, seconds = run_import(campaign, "text.xlsx", path)
    assert_refused(job, campaign, "too much text", "CSV")


@pytest.mark.parametrize(
    "dtd",
    [
        '<!DOCTYPE worksheet [<!ENTITY a0 "lol">'
        + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
        + "]>",
        '<!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    ],
    ids=["billion-laughs", "external-entity"],
)
def test_an_xlsx_sheet_with_xml_entities_is_refused(campaign, run_import, tmp_path, dtd):
    source = workbook([["mobile", "name", "order"], ["13800138000", "王", "SO1"]])
    entity = "&a9;" if "a9" in dtd else "&x;"
    sheet = (
        f'<?xml version="1.0" encoding="UTF-8"?>{dtd}<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>{entity}</t></is></c></row></sheetData></worksheet>'
    ).encode()
    path = rebuilt(source, tmp_path / "entities.xlsx", SHEET, sheet, b"", 0, b"")
    with python_memory() as memory:
        job, seconds = run_import(campaign, "entities.xlsx", path)
    assert_refused(job, campaign, ".xlsx file cannot be opened")
    assert "root:" not in job.error and "lollol" not in job.error
    assert seconds < FAST and memory["peak_mb"] < 50


# ---- 200 MB
def write_200_mb(path: Path, *, line_break: bool = True) -> Path:
    """200 MB written in 1 MB pieces: recipient rows (unique numbers first), or one endless line."""
    with open(path, "wb") as fh:
        if not line_break:
            block = b"1" * MB
            for _ in range(200):
                fh.write(block)
            return path
        fh.write(HEADER.encode())
        unique = "".join(f"1380{n:07d},王{n % 97},SO{n}\n" for n in range(200_000)).encode()
        fh.write(unique)
        block = ("13900139001,李,SO1\n" * (MB // 21)).encode()
        while fh.tell() < 200 * MB:
            fh.write(block)
        fh.truncate(200 * MB)
    return path


def test_a_200_mb_file_is_refused_at_once_with_the_size_limit(campaign, tmp_path):
    """The answer to a 200 MB list is the upload limit (100 MB, ``RECIPIENT_FILE_MAX_BYTES``), not a long wait:
    refused before the file is stored, so nothing of it stays behind."""
    path = write_200_mb(tmp_path / "huge.csv")
    recipients_before = campaign.recipients.count()
    started = time.monotonic()
    with python_memory() as memory, open(path, "rb") as fh, pytest.raises(services.CampaignError) as refused:
        services.start_file_import(campaign, File(fh, name="huge.csv"))
    for needle in ("200 MB", "at most 100 MB", "Split"):
        assert needle in str(refused.value)
    assert not RecipientImport.objects.exists() and campaign.recipients.count() == recipients_before
    assert time.monotonic() - started < FAST and memory["peak_mb"] < 50, memory


def test_a_200_mb_file_under_a_raised_limit_stops_at_the_row_limit_with_nothing_imported(
    campaign, run_import, tmp_path, settings, monkeypatch
):
    """Raised size limit: the import streams, and stops at the row limit in bounded memory, rolled back."""
    settings.RECIPIENT_FILE_MAX_BYTES = 300 * MB
    monkeypatch.setattr(imports, "MAX_IMPORT_ROWS", 150_000)
    path = write_200_mb(tmp_path / "huge.csv")
    with python_memory() as memory:
        job, seconds = run_import(campaign, "huge.csv", path)
    assert_refused(job, campaign, "more than 150,000 rows", "Split")
    assert seconds < 60 and memory["peak_mb"] < 300, (seconds, memory)


def test_a_200_mb_line_is_refused_in_bounded_memory(campaign, run_import, tmp_path, settings):
    settings.RECIPIENT_FILE_MAX_BYTES = 300 * MB
    path = write_200_mb(tmp_path / "line.csv", line_break=False)
    with python_memory() as memory:
        job, seconds = run_import(campaign, "line.csv", path)
    assert_refused(job, campaign, "Line 1 is longer than 1,000,000 characters")
    assert seconds < 30 and memory["peak_mb"] < 100, (seconds, memory)


def test_a_big_file_within_the_limits_imports_in_bounded_memory(campaign, run_import, tmp_path):
    rows = 200_000
    path = tmp_path / "big.csv"
    path.write_text(HEADER + "".join(f"1380{n:07d},王{n % 97},SO{n}\n" for n in range(rows)), encoding="gb18030")
    with python_memory() as memory:
        job, seconds = run_import(campaign, "big.csv", path)
    assert_done(job, rows)
    assert Recipient.objects.filter(campaign=campaign).count() == rows + 1
    assert memory["peak_mb"] < 150, memory


def test_the_api_refuses_a_file_over_the_limit_before_storing_it(
    campaign, settings, django_capture_on_commit_callbacks
):
    settings.RECIPIENT_FILE_MAX_BYTES = 1000
    client = client_for("Marketing")
    upload = SimpleUploadedFile("big.csv", (HEADER + GOOD_ROWS * 100).encode())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/campaigns/{campaign.pk}/recipients/", {"file": upload}, format="multipart")
    assert response.status_code == 400
    assert "at most" in field_errors(response, "file")[0]
    assert not RecipientImport.objects.exists()


# ---- huge cells
def test_10_mb_in_one_csv_cell_is_refused_naming_the_line(campaign, run_import):
    content = (HEADER + GOOD_ROWS + "13800138002,").encode() + b"x" * (10 * MB) + b",SO3\n"
    with python_memory() as memory:
        job, seconds = run_import(campaign, "list.csv", content)
    assert_refused(job, campaign, "Line 4 is longer than 1,000,000 characters")
    assert seconds < FAST and memory["peak_mb"] < 100, (seconds, memory)


def test_a_quote_never_closed_is_refused_naming_the_line(campaign, run_import):
    content = (HEADER + '13800138002,"王先生,SO3\n' + "13800138003,李,SO4\n" * 80_000).encode()
    job, seconds = run_import(campaign, "list.csv", content)
    assert_refused(job, campaign, "Line 2")


def test_a_cell_over_the_csv_field_limit_is_refused_naming_the_line(campaign, run_import):
    content = (HEADER + GOOD_ROWS + "13800138002," + "x" * 200_000 + ",SO3\n").encode()
    job, seconds = run_import(campaign, "list.csv", content)
    assert_refused(job, campaign, "Line 4 has a cell longer than 131,072 characters")


def test_a_long_cell_rejects_its_row_and_keeps_the_others(campaign, run_import):
    content = (HEADER + GOOD_ROWS + "13800138002," + "长" * 50_000 + ",SO3\n" + "13800138003,赵,SO4\n").encode()
    job, seconds = run_import(campaign, "list.csv", content)
    assert_done(job, 3)
    assert [(line, reason) for line, _mobile, reason in job.rejected_rows] == [
        (4, "a cell is longer than 10,000 characters")
    ]
    assert "+8613800138002" not in numbers(campaign)


def test_10_mb_in_one_xlsx_cell_rejects_that_row(campaign, run_import):
    huge = random_letters(10 * MB).decode()
    content = workbook([["mobile", "name", "order"], ["13800138000", "王", "SO1"], ["13800138001", huge, "SO2"]])
    with python_memory() as memory:
        job, seconds = run_import(campaign, "list.xlsx", content)
    assert_done(job, 1)
    assert [(line, reason) for line, _mobile, reason in job.rejected_rows] == [
        (3, "a cell is longer than 10,000 characters")
    ]
    assert seconds < FAST * 3 and memory["peak_mb"] < 200, (seconds, memory)


# ---- formulas
FORMULAS = ["=cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3", "@SUM(A1:A2)", '=HYPERLINK("http://evil.example","点我")']


def test_csv_formulas_are_inert_text_or_rejected_never_evaluated(campaign, run_import):
    lines = [HEADER.strip()]
    lines += [f'1380013800{i},"{formula.replace(chr(34), chr(34) * 2)}",SO{i}' for i, formula in enumerate(FORMULAS)]
    lines += ["\"=cmd|' /C calc'!A0\",王,SO9", '+86 138 0013 8009,"=1+1","=1+1"']
    job, seconds = run_import(campaign, "list.csv", "\n".join(lines).encode())
    assert_done(job, len(FORMULAS) + 1)
    stored = dict(Recipient.objects.filter(campaign=campaign).values_list("mobile", "variables"))
    for i, formula in enumerate(FORMULAS):
        assert stored[f"+861380013800{i}"] == [formula, f"SO{i}"]  # kept verbatim: never evaluated
    assert stored["+8613800138009"] == ["=1+1", "=1+1"]
    assert [(line, reason) for line, _mobile, reason in job.rejected_rows] == [(7, "not a phone number")]
    # The rejected rows' download neutralizes the formula (OWASP CSV injection).
    exported = "".join(exports.csv_lines(exports.rejected_header(), exports.rejected_rows(job)))
    assert "'=cmd|" in exported and "\n=cmd" not in exported and ",=cmd" not in exported


def test_xlsx_formulas_are_never_evaluated(campaign, run_import):
    book = Workbook()
    sheet = book.active
    sheet.append(["mobile", "name", "order"])
    sheet.append(["13800138000", "=1+1", "=A1"])  # real formulas: no cached value, read as empty
    sheet.append(["=13800138000+1", "王", "SO2"])  # a formula as the number
    sheet.append(["13800138003", "=cmd|' /C calc'!A0", "SO3"])
    sheet["B4"].data_type = "s"  # the same text stored as a string cell: imported as inert text
    sheet.append(["13800138004", "李", "SO4"])
    buffer = io.BytesIO()
    book.save(buffer)
    job, seconds = run_import(campaign, "list.xlsx", buffer.getvalue())
    assert_done(job, 2)
    reasons = {line: reason for line, _mobile, reason in job.rejected_rows}
    assert reasons[2].startswith("needs 2 variable(s)") and reasons[3] == "empty number"
    stored = dict(Recipient.objects.filter(campaign=campaign).values_list("mobile", "variables"))
    assert stored["+8613800138003"] == ["=cmd|' /C calc'!A0", "SO3"]
    assert "+8613800138000" not in stored and "+8613800138001" not in stored


# ---- empty and shapeless files
@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("blank.csv", b"\n\r\n  \n,,,\n", "no rows"),
        ("bom-only.csv", codecs.BOM_UTF8, "no rows"),
        ("header.csv", HEADER.encode(), "only a header row"),
        ("header-and-blanks.csv", (HEADER + "\n,,\n\n").encode("gb18030"), "only a header row"),
        ("empty.xlsx", workbook([]), "no rows"),
        ("header.xlsx", workbook([["手机号", "name", "order"]]), "only a header row"),
    ],
)
def test_an_empty_or_header_only_file_is_refused(campaign, run_import, name, content, needle):
    job, seconds = run_import(campaign, name, content)
    assert_refused(job, campaign, needle)


@pytest.mark.parametrize(("name", "content", "needle"), [("empty.csv", b"", "empty"), ("list.pdf", b"%PDF", "CSV")])
def test_an_empty_or_foreign_upload_is_refused_before_it_is_stored(campaign, run_import, name, content, needle):
    """The service holds the upload rules (admin and API call it): nothing is stored or queued."""
    with pytest.raises(services.CampaignError, match=needle):
        run_import(campaign, name, content)
    assert not RecipientImport.objects.exists()


@pytest.mark.parametrize(
    "content",
    [
        "name,order\n王先生,SO1\n李女士,SO2\n",
        "姓名,订单号\n王先生,SO1\n",
        "Name;Order\n王先生;SO1\n",
    ],
)
def test_a_header_without_a_number_column_is_refused_with_the_column_names_to_use(campaign, run_import, content):
    job, seconds = run_import(campaign, "list.csv", content.encode("gb18030"))
    assert_refused(job, campaign, "header without a number column", "手机号", "mobile")


@pytest.mark.parametrize("title", ["手机号（必填）", "Mobile No.", "phone_number", "手機號碼", "客户号码列"])
def test_a_header_with_an_unusual_number_title_is_a_header_with_the_numbers_first(campaign, run_import, title):
    job, seconds = run_import(campaign, "list.csv", f"{title},name,order\n{GOOD_ROWS}".encode("gb18030"))
    assert_done(job, 2)
    assert job.rejected_rows == []  # the header is not reported as a bad number


def test_a_file_without_a_header_takes_the_first_column_as_the_number(campaign, run_import):
    job, seconds = run_import(campaign, "list.csv", GOOD_ROWS.encode())
    assert_done(job, 2)


def test_rows_missing_the_variable_columns_are_rejected_with_their_line(campaign, run_import):
    job, seconds = run_import(
        campaign, "list.csv", (HEADER + "13800138000\n13800138001,李女士\n13800138002,赵,SO3\n").encode()
    )
    assert_done(job, 1)
    assert [line for line, _mobile, _reason in job.rejected_rows] == [2, 3]
    assert all(reason.startswith("needs 2 variable(s): name、order") for _l, _m, reason in job.rejected_rows)


# ---- numbers in every odd format
ACCEPTED = {  # as written → E.164
    "１３８００１３８００１": "+8613800138001",  # full-width digits (Chinese input methods)
    "1３８００１３８００２": "+8613800138002",  # half and half
    "138 0013 8003": "+8613800138003",
    "138-0013-8004": "+8613800138004",
    "+86 138 0013 8005": "+8613800138005",
    "0086 13800138006": "+8613800138006",
    "86 13800138007": "+8613800138007",
    "(+86) 138-0013-8008": "+8613800138008",
    "13800138009.0": "+8613800138009",  # went through a spreadsheet as a float
    "\u3000１３８　００１３　８０１０\u3000": "+8613800138010",  # ideographic spaces
    "＋８６ １３８００１３８０１１": "+8613800138011",
    "138\u00a00013\u00a08012": "+8613800138012",  # no-break spaces
    "010-12345678": "+861012345678",  # Beijing landline
    "(010) 8765 4321": "+861087654321",
    "0755-12345678": "+8675512345678",  # Shenzhen landline
    "+86 21 6123 4567": "+862161234567",  # Shanghai, international form
    "021－61234568": "+862161234568",  # full-width hyphen
}
REJECTED = {  # as written → reason
    "0755 1234567": "not a valid China mobile or landline number",  # Shenzhen numbers have 8 digits
    "010-12345678 ext 123": "has an extension, which cannot be dialled; give a direct number",
    "010-12345678转123": "has an extension, which cannot be dialled; give a direct number",
    "1380013800a": "not a valid China mobile or landline number",
    "138001380": "not a valid China mobile or landline number",  # too short
    "138001380000": "not a valid China mobile or landline number",  # too long
    "12345678901": "not a valid China mobile or landline number",  # no such mobile range
    "+1 212 555 0100": "not a China number",
    "+44 20 7946 0958": "not a China number",
    "001 212 555 0100": "not a China number",  # international prefix from China
    "1.38001E+10": "written in scientific notation by a spreadsheet (digits are lost); format the column as text",
    "abc": "not a phone number",
    "手机": "not a phone number",
    "": "empty number",
}


def test_numbers_in_every_odd_format(campaign, run_import):
    written = list(ACCEPTED) + list(REJECTED)
    lines = ["手机号,name,order"] + [f'"{text}",名{i},SO{i}' for i, text in enumerate(written)]
    job, seconds = run_import(campaign, "numbers.csv", "\n".join(lines).encode("utf-8"))
    assert_done(job, len(ACCEPTED))
    assert numbers(campaign) == set(ACCEPTED.values()) | {"+8613900139000"}
    reasons = {mobile: reason for _line, mobile, reason in job.rejected_rows}
    assert reasons == REJECTED
    lines_of_empty = [line for line, mobile, _reason in job.rejected_rows if mobile == ""]
    assert lines_of_empty == [2 + len(written) - 1]  # the empty number is the last row, counted with the header


def test_an_xlsx_number_cell_read_as_a_float_is_the_number(campaign, run_import):
    content = workbook(
        [
            ["mobile", "name", "order"],
            [13800138000, "王", "SO1"],
            [13800138001.0, "李", "SO2"],
            [1.3800138e10, "赵", "SO3"],
        ]
    )
    job, seconds = run_import(campaign, "list.xlsx", content)
    assert_done(job, 2)  # 1.3800138e10 is 13800138000 again: a duplicate
    assert numbers(campaign) == {"+8613800138000", "+8613800138001", "+8613900139000"}
    assert [reason for _l, _m, reason in job.rejected_rows] == ["duplicate number"]

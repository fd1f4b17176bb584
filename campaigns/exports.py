"""Spreadsheet exports: CSV (UTF-8 with a BOM, so Excel shows Chinese) and XLSX, streamed.

Every text cell is neutralised against formula injection (OWASP "CSV injection"): a value that
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading apostrophe, so
``+8613800138000`` stays a number as text and ``=HYPERLINK(…)`` in a vendor message stays text.
Numbers, dates and empty cells are written as such. Rows are read from the database in chunks and
written as they come: an export of a million calls never sits whole in memory.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal

from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from .models import OUTCOME_LABELS, CallRecord, RecipientImport

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("csv", "xlsx")
CHUNK = 2000


def safe_text(value: str) -> str:
    """Text a spreadsheet will never read as a formula."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return (
            timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
            if timezone.is_aware(value)
            else value.strftime("%Y-%m-%d %H:%M:%S")
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float | Decimal):
        return str(value)
    return safe_text(str(value))


def xlsx_cell(value):
    if value is None:
        return None
    if isinstance(value, datetime):
        # Excel has no time zones: write the local wall time the user reads everywhere else.
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    if isinstance(value, date | bool | int | float | Decimal):
        return value
    return safe_text(str(value))


class _Echo:
    def write(self, value):
        return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield BOM + writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        yield writer.writerow([csv_cell(v) for v in row])


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence]) -> StreamingHttpResponse:
    response = StreamingHttpResponse((line.encode("utf-8") for line in csv_lines(header, rows)), content_type=CSV_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["X-Content-Type-Options"] = "nosniff"
    return response


def write_xlsx(fh, header: Sequence[str], rows: Iterable[Sequence], title: str = "") -> None:
    """Write a one-sheet workbook in openpyxl's streaming (write-only) mode."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=(title or "Sheet1")[:31])
    bold = Font(bold=True)
    head = []
    for name in header:
        cell = WriteOnlyCell(sheet, value=xlsx_cell(name))
        cell.font = bold
        head.append(cell)
    sheet.append(head)
    for row in rows:
        sheet.append([xlsx_cell(v) for v in row])
    workbook.save(fh)


def xlsx_response(filename: str, header: Sequence[str], rows: Iterable[Sequence], title: str = "") -> FileResponse:
    # A spooled file: small exports stay in memory, big ones go to disk, never the whole sheet twice.
    fh = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    write_xlsx(fh, header, rows, title)
    fh.seek(0)
    return FileResponse(fh, as_attachment=True, filename=filename, content_type=XLSX_TYPE)


def export_response(fmt: str, stem: str, header: Sequence[str], rows: Iterable[Sequence], title: str = ""):
    stem = get_valid_filename(stem) or "export"
    if fmt == "xlsx":
        return xlsx_response(f"{stem}.xlsx", header, rows, title)
    return csv_response(f"{stem}.csv", header, rows)


# ---- call records
CALL_FIELDS = (
    "campaign__name",
    "mobile",
    "attempt",
    "state",
    "outcome",
    "raw_code",
    "raw_message",
    "talk_seconds",
    "billed_seconds",
    "billed_units",
    "key_pressed",
    "account__name",
    "custom_id",
    "vendor_message_id",
    "submitted_at",
    "reported_at",
    "is_test",
)


def call_header() -> list[str]:
    return [
        _("campaign"),
        _("number"),
        _("attempt"),
        _("state"),
        _("outcome"),
        _("vendor code"),
        _("vendor message"),
        _("talk time (s)"),
        _("billed time (s)"),
        _("billed units"),
        _("key pressed"),
        _("vendor account"),
        _("our call id"),
        _("vendor message id"),
        _("submitted"),
        _("reported"),
        _("test call"),
    ]


def call_rows(queryset) -> Iterator[list]:
    states = dict(CallRecord.State.choices)
    outcomes = {k: str(v) for k, v in OUTCOME_LABELS.items()}
    yes = _("yes")
    for row in queryset.order_by("id").values_list(*CALL_FIELDS).iterator(chunk_size=CHUNK):
        row = list(row)
        row[3] = str(states.get(row[3], row[3]))
        row[4] = outcomes.get(row[4], row[4])
        row[-1] = yes if row[-1] else ""
        yield row


def export_calls(queryset, fmt: str, stem: str):
    return export_response(fmt, stem, call_header(), call_rows(queryset), title=_("Calls"))


# ---- rejected import rows
def rejected_header() -> list[str]:
    return [_("line"), _("number as given"), _("reason")]


def rejected_rows(job: RecipientImport) -> Iterator[list]:
    for item in job.rejected_rows or []:
        line, mobile, reason = (list(item) + [None, "", ""])[:3]
        yield [line, mobile, reason]


def export_rejected(job: RecipientImport, fmt: str):
    stem = f"rejected-{job.pk}-{job.original_name.rsplit('.', 1)[0]}"
    return export_response(fmt, stem, rejected_header(), rejected_rows(job), title=_("Rejected rows"))


# --------------------------------------------------------------------------- do-not-call list
def export_do_not_call(queryset, fmt: str):
    from . import do_not_call

    stem = f"do-not-call-{timezone.localtime():%Y%m%d-%H%M}"
    return export_response(
        fmt, stem, do_not_call.export_header(), do_not_call.export_rows(queryset), title=_("Do-not-call list")
    )


def export_rejected_rows(rows: list, fmt: str, stem: str):
    return export_response(fmt, stem, rejected_header(), iter(rows), title=_("Rejected rows"))

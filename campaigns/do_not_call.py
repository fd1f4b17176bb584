"""The do-not-call list: entries typed one by one, imported from a file, exported.

Every number goes through ``phones.normalize`` (the recipient import's function), so any spelling
blocks every other; the list is checked at import and again when each call goes out
(``dispatch.cancel_do_not_call``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _

from .models import DoNotCallEntry
from .phones import InvalidNumber, normalize
from .readers import MAX_CELL_CHARS, UnreadableFile, column_plan, open_rows

MAX_ROWS = 2_000_000
BATCH = 5_000
REASON_MAX = DoNotCallEntry._meta.get_field("reason").max_length


@dataclass
class DoNotCallImport:
    rows: int = 0
    added: int = 0
    already: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Nothing taken from a file that had rows: shown as a failure, not as a success with zeros."""
        return self.rows > 0 and self.added == 0 and self.already == 0


def add_entry(mobile_text: str, reason: str = "") -> DoNotCallEntry:
    """One number, any spelling; the ValidationError of ``DoNotCallEntry`` names what is wrong."""
    entry = DoNotCallEntry(mobile=mobile_text, reason=reason[:REASON_MAX])
    entry.full_clean()
    entry.save()
    return entry


def import_file(path: Path, name: str, default_reason: str = "") -> DoNotCallImport:
    """Numbers from a CSV/XLSX (the recipient lists' reader): a number column, optionally a reason.

    Rows that are not numbers are rejected with the reason; numbers already listed are counted,
    not duplicated. All or nothing, in one transaction.
    """
    rows, _counter = open_rows(path, name)
    return import_rows(_numbered(rows), default_reason)


def import_rows(rows: Iterable[tuple[int, str, str]], default_reason: str = "") -> DoNotCallImport:
    result = DoNotCallImport()
    seen: set[str] = set()
    pending: dict[str, str] = {}
    with transaction.atomic():
        for line, text, reason in rows:
            result.rows += 1
            if result.rows > MAX_ROWS:
                raise UnreadableFile(
                    _("The file has more than %(max)s rows; split it into smaller files.") % {"max": f"{MAX_ROWS:,}"}
                )
            if len(text) > MAX_CELL_CHARS:
                result.rejected.append(
                    (line, text[:100], _("a cell is longer than %(max)s characters") % {"max": MAX_CELL_CHARS})
                )
                continue
            try:
                mobile = normalize(text)
            except InvalidNumber as exc:
                result.rejected.append((line, text, str(exc)))
                continue
            if mobile in seen:
                result.already += 1
                continue
            seen.add(mobile)
            pending[mobile] = (reason.strip() or default_reason)[:REASON_MAX]
            if len(pending) >= BATCH:
                _store(pending, result)
        _store(pending, result)
    return result


def _store(pending: dict[str, str], result: DoNotCallImport) -> None:
    if not pending:
        return
    existing = set(DoNotCallEntry.objects.filter(mobile__in=list(pending)).values_list("mobile", flat=True))
    new = [DoNotCallEntry(mobile=m, reason=r) for m, r in pending.items() if m not in existing]
    DoNotCallEntry.objects.bulk_create(new, ignore_conflicts=True)  # numbers are normalized above
    result.added += len(new)
    result.already += len(existing)
    pending.clear()


def _numbered(rows: Iterator[list[str]]) -> Iterator[tuple[int, str, str]]:
    """(line, number text, reason) from raw rows: a header row is skipped, a second column is the reason."""
    plan = None
    for line, row in enumerate(rows, 1):
        if plan is None:
            has_header, mobile_col, reason_cols = column_plan(row, ["reason"])
            plan = (mobile_col, reason_cols)
            if has_header:
                continue
        if not any(cell.strip() for cell in row):
            continue
        mobile_col, reason_cols = plan
        cells = len(row)
        reason = row[reason_cols[0]] if reason_cols and reason_cols[0] < cells else ""
        yield line, row[mobile_col] if mobile_col < cells else "", reason


def export_rows(queryset=None) -> Iterator[list]:
    for mobile, reason, added in (
        (queryset or DoNotCallEntry.objects.all())
        .values_list("mobile", "reason", "created_at")
        .iterator(chunk_size=5000)
    ):
        yield [mobile, reason, added]


def export_header() -> list[str]:
    return [_("number"), _("reason"), _("added")]

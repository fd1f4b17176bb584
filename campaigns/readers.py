"""Reading recipient files (CSV or XLSX) as a stream of rows, whatever Excel saved them as.

CSV encodings: a BOM wins (UTF-8, UTF-16); else strict UTF-8 if the whole file decodes; else
GB18030 (a superset of GBK/GB2312, what Excel in China saves) when the text looks like Chinese.
Nothing is loaded whole: CSV is decoded incrementally, XLSX read with openpyxl's read-only
streaming mode after a zip-bomb check.

Hostile or broken files are refused with a message a user can act on (``UnreadableFile``), with
bounded memory and time: a file larger than ``max_file_bytes()``, a CSV record longer than
``MAX_ROW_CHARS`` (a 10 MB cell, a quote never closed, a binary blob), a workbook that expands
too much or holds too much text, a file with no recipient rows or a header with no number column.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

CHUNK = 1 << 20
MAX_CELL_CHARS = 10_000  # longer cells reject their row (campaigns.imports)
MAX_ROW_CHARS = 1_000_000  # one CSV record: a longer one fails the import (bounded memory)
MAX_FILE_BYTES = 100 * 1024 * 1024  # settings.RECIPIENT_FILE_MAX_BYTES overrides it
MAX_XLSX_UNCOMPRESSED = 500 * 1024 * 1024
MAX_XLSX_SHARED_STRINGS = 100 * 1024 * 1024  # openpyxl holds the shared strings in memory
MAX_XLSX_RATIO = 200
MAX_XLSX_ENTRIES = 1_000
MOBILE_HEADERS = {
    "mobile",
    "phone",
    "number",
    "tel",
    "mobile number",
    "phone number",
    "mobile phone",
    "cellphone",
    "cell",
    "mobile no",
    "phone no",
    "tel no",
    "telephone",
    "msisdn",
    "手机号",
    "手机",
    "手机号码",
    "号码",
    "电话",
    "电话号码",
    "联系电话",
    "联系方式",
    "移动电话",
    "手機號",
    "手機",
    "手機號碼",
    "號碼",
    "電話",
    "電話號碼",
    "聯繫電話",
    "聯絡電話",
    "行動電話",
    "流動電話",
}
_TITLE_NOISE = re.compile(r"[\s_\-.:：#()（）\[\]【】*]+")


def _title_key(title: str) -> str:
    """A column title as compared with MOBILE_HEADERS: case, spaces and punctuation ignored."""
    return _TITLE_NOISE.sub("", title.strip().lower())


_MOBILE_KEYS = {_title_key(t) for t in MOBILE_HEADERS}
_DIGIT = re.compile(r"\d")
# A CSV that decodes as GB18030 may still not be Chinese: Shift-JIS or Big5 bytes decode as GB18030
# too, into characters real text rarely uses. Real Chinese, simplified or traditional, is nearly all
# in the common sets (GB2312 or Big5); mis-decoded bytes fall outside both far more often.
_MIN_NON_ASCII = 8
_MAX_UNCOMMON = 0.2


class UnreadableFile(ValueError):
    """The file cannot be read as recipients; the message tells the user what to do."""


def max_file_bytes() -> int:
    return int(getattr(settings, "RECIPIENT_FILE_MAX_BYTES", MAX_FILE_BYTES))


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f}"


def check_size(size: int) -> None:
    """Refuse a file larger than the import takes, before reading a byte of it."""
    limit = max_file_bytes()
    if size > limit:
        raise UnreadableFile(
            _("The file is %(size)s MB; one import takes at most %(limit)s MB. Split the list into smaller files.")
            % {"size": _megabytes(size), "limit": _megabytes(limit)}
        )


def _utf16_without_bom(chunk: bytes) -> bool:
    """Text in UTF-16 without a BOM: NUL bytes in every other position (ASCII digits and commas)."""
    sample = chunk[:4096]
    if len(sample) < 8:
        return False
    even, odd = sample[0::2], sample[1::2]
    return (
        max(even.count(0) / len(even), odd.count(0) / len(odd)) > 0.3
        and min(even.count(0), odd.count(0)) <= len(odd) // 20
    )


def _common_chinese(char: str) -> bool:
    for charset in ("gb2312", "big5"):
        try:
            char.encode(charset)
        except UnicodeEncodeError:
            continue
        return True
    return False


def _looks_chinese(path: Path) -> bool:
    """Whether a file that decodes as GB18030 reads as Chinese (not Shift-JIS or Big5 mis-decoded)."""
    with open(path, "rb") as fh:
        text = fh.read(CHUNK).decode("gb18030", errors="ignore")
    non_ascii = [c for c in text if ord(c) > 127]
    if len(non_ascii) < _MIN_NON_ASCII:
        return True
    uncommon = sum(1 for c in non_ascii if not _common_chinese(c))
    return uncommon / len(non_ascii) <= _MAX_UNCOMMON


def detect_encoding(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        for encoding in ("utf-8", "gb18030"):
            decoder = codecs.getincrementaldecoder(encoding)("strict")
            fh.seek(0)
            try:
                while chunk := fh.read(CHUNK):
                    if b"\x00" in chunk:
                        if _utf16_without_bom(chunk):
                            raise UnreadableFile(
                                _(
                                    "The file is UTF-16 text without a byte-order mark; "
                                    "save it as “CSV UTF-8” and upload again."
                                )
                            )
                        raise UnreadableFile(_("This is a binary file, not a CSV or XLSX list of numbers."))
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                continue
            if encoding == "gb18030" and not _looks_chinese(path):
                raise UnreadableFile(
                    _(
                        "The file's text does not read as Chinese in GB18030/GBK (it may be Shift-JIS, Big5 or another "
                        "encoding); save it as “CSV UTF-8” and upload again."
                    )
                )
            return encoding
    raise UnreadableFile(
        _("The file's text encoding is not UTF-8 or GB18030/GBK; save it as CSV UTF-8 and upload again.")
    )


class _CountingReader(io.RawIOBase):
    """Wraps a binary file to report how many bytes were consumed (for the progress bar)."""

    def __init__(self, fh):
        self.fh = fh
        self.consumed = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = self.fh.readinto(buffer)
        self.consumed += n or 0
        return n

    def close(self):
        self.fh.close()
        super().close()


def _row_too_long(line: int) -> UnreadableFile:
    return UnreadableFile(
        _(
            "Line %(line)d is longer than %(max)s characters (a huge cell, or a quote that is never closed); "
            "this does not look like a list of numbers."
        )
        % {"line": line, "max": f"{MAX_ROW_CHARS:,}"}
    )


def iter_csv(path: Path) -> tuple[Iterator[list[str]], _CountingReader]:
    encoding = detect_encoding(path)
    with open(path, encoding=encoding, newline="", errors="replace") as fh:
        sample = fh.read(4096)
    raw = _CountingReader(open(path, "rb"))  # closed with the text wrapper
    text = io.TextIOWrapper(io.BufferedReader(raw, CHUNK), encoding=encoding, newline="", errors="replace")
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter if sample else ","
    except csv.Error:
        delimiter = ","
    # Only the delimiter is guessed: the sniffer takes the apostrophe Excel (and our own exports)
    # put before "+86…" for a quote character, and would read a whole line as one cell.
    dialect = type("SniffedDialect", (csv.excel,), {"delimiter": delimiter})
    # Physical lines read, where the current record started and its length so far: a record (one
    # line, or several when a quoted cell spans lines) is read at most MAX_ROW_CHARS characters at
    # a time, so neither one endless line nor an endless run of lines is ever held in memory.
    lines_read = record_start = record_chars = 0

    def lines():
        nonlocal lines_read, record_chars
        readline = text.readline
        while line := readline(MAX_ROW_CHARS + 1 - record_chars):
            lines_read += 1
            record_chars += len(line)
            if record_chars > MAX_ROW_CHARS:
                raise _row_too_long(record_start + 1)
            yield line

    def rows():
        nonlocal record_start, record_chars
        reader = csv.reader(lines(), dialect)
        try:
            for row in reader:
                record_start, record_chars = lines_read, 0
                yield row
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise UnreadableFile(
                    _(
                        "Line %(line)d has a cell longer than %(max)s characters; a recipient list holds numbers and "
                        "short texts."
                    )
                    % {"line": record_start + 1, "max": f"{csv.field_size_limit():,}"}
                ) from exc
            raise UnreadableFile(
                _("Line %(line)d cannot be read as CSV (%(error)s).") % {"line": record_start + 1, "error": exc}
            ) from exc
        finally:
            text.close()

    return rows(), raw


def _central_directory(path: Path) -> tuple[int, int] | None:
    """(entries, bytes) the zip's end record announces for its central directory, or None if unreadable.

    Read before ``zipfile.ZipFile`` parses the directory into objects (hundreds of bytes each): a
    small file can announce a million entries.
    """
    try:
        with open(path, "rb") as fh:
            end = zipfile._EndRecData(fh)  # the stdlib's own reader of the end record
        return (end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]) if end else None
    except (OSError, AttributeError, ValueError, IndexError, struct.error):
        return None


def _check_zip(path: Path) -> None:
    too_big = UnreadableFile(
        _("This workbook expands to an unreasonable size; export the sheet as CSV and upload that.")
    )
    directory = _central_directory(path)
    if directory is not None and (directory[0] > MAX_XLSX_ENTRIES or directory[1] > MAX_XLSX_ENTRIES * 1024):
        raise too_big
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise UnreadableFile(_("This .xlsx file is damaged or not an Excel workbook.")) from exc
    if len(infos) > MAX_XLSX_ENTRIES:
        raise too_big
    total = sum(info.file_size for info in infos)
    packed = sum(info.compress_size for info in infos) or 1
    if total > MAX_XLSX_UNCOMPRESSED or total / packed > MAX_XLSX_RATIO:
        raise too_big
    strings = sum(info.file_size for info in infos if info.filename.lower().endswith("sharedstrings.xml"))
    if strings > MAX_XLSX_SHARED_STRINGS:
        raise UnreadableFile(
            _("This workbook holds too much text for one import; export the sheet as CSV and upload that.")
        )


def _damaged(exc: Exception) -> UnreadableFile:
    return UnreadableFile(
        _("This .xlsx file cannot be opened: %(error)s") % {"error": str(exc)[:200] or type(exc).__name__}
    )


class _SheetProgress:
    """How far a worksheet has been read, told in bytes of the file like ``_CountingReader``.

    A workbook is compressed and read out of order, so bytes say nothing; rows read against the
    rows the sheet declares (its dimension) do. A sheet that declares none shows no progress.
    """

    def __init__(self, size: int, declared_rows: int | None):
        self.size, self.declared_rows, self.rows = size, declared_rows or 0, 0

    @property
    def consumed(self) -> int:
        return min(self.size, self.size * self.rows // self.declared_rows) if self.declared_rows else 0


def iter_xlsx(path: Path) -> tuple[Iterator[list[str]], _SheetProgress]:
    _check_zip(path)
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken workbook
        raise _damaged(exc) from exc
    if not workbook.worksheets:
        workbook.close()
        raise UnreadableFile(_("This .xlsx file has no worksheet."))
    sheet = workbook.worksheets[0]
    try:
        declared_rows = sheet.max_row
    except Exception:  # a malformed dimension: read on, without progress
        declared_rows = None
    progress = _SheetProgress(Path(path).stat().st_size, declared_rows)

    def cell_text(value) -> str:
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    def rows():
        try:
            for values in sheet.iter_rows(values_only=True):
                progress.rows += 1
                yield [cell_text(v) for v in values]
        except UnreadableFile:
            raise
        except Exception as exc:  # a damaged sheet (bad CRC, broken or hostile XML) shows only when read
            raise _damaged(exc) from exc
        finally:
            workbook.close()

    return rows(), progress


def _with_content_check(rows: Iterator[list[str]]) -> Iterator[list[str]]:
    """Pass rows through, refusing a file with no row, only a header row, or a header and no numbers.

    A header whose number column has a title we do not know is read with the numbers in its first
    column; if the first data row has no digit there, the file has no number column at all.
    """
    first = None
    for row in rows:
        yield row
        if any(cell.strip() for cell in row):
            if first is None:
                first = row
                continue
            if _unknown_header(first) and not _DIGIT.search(row[0] if row else ""):
                raise UnreadableFile(
                    _(
                        "The first row is a header without a number column; name the column with the numbers "
                        "“手机号” or “mobile” (or put the numbers in the first column, without a header)."
                    )
                )
            break  # two rows with content: nothing more to check
    else:
        if first is None:
            raise UnreadableFile(_("The file has no rows: it is empty or blank."))
        if column_plan(first, [])[0]:
            raise UnreadableFile(_("The file has only a header row and no recipients."))
        return
    yield from rows


XLSX_SUFFIXES = (".xlsx", ".xlsm")
# What a recipients file may be called: a workbook, or text read as CSV (no extension included).
FILE_SUFFIXES = (*XLSX_SUFFIXES, ".csv", ".txt", "")


def check_upload(name: str, size: int) -> None:
    """The one home of what a recipients file must be before it is stored or read: its kind and size.

    The service checks an upload with it (admin and API), the serializer too (for a 400 on the
    field), and ``open_rows`` once more for the stored file.
    """
    if Path(name or "").suffix.lower() not in FILE_SUFFIXES:
        raise UnreadableFile(_("“%(name)s” is not a CSV or XLSX file; upload a .csv or .xlsx file.") % {"name": name})
    if not size:
        raise UnreadableFile(_("The file is empty."))
    check_size(size)


def open_rows(path: Path, name: str):
    """(rows, progress) for a recipients file, by its name's extension; ``progress.consumed`` is in bytes."""
    suffix = Path(name).suffix.lower()
    check_upload(name, Path(path).stat().st_size)
    rows, counter = iter_xlsx(path) if suffix in XLSX_SUFFIXES else iter_csv(path)
    return _with_content_check(rows), counter


def _unknown_header(row: list[str]) -> bool:
    """A first row that is a header (text, no digit) without a number column title we know."""
    titles = [c.strip().lower() for c in row]
    if any(_title_key(t) in _MOBILE_KEYS for t in titles):
        return False
    return bool(titles and titles[0]) and not any(_DIGIT.search(t) for t in titles)


def column_plan(first_row: list[str], variable_names: list[str]) -> tuple[bool, int, list[int]]:
    """(has_header, mobile column, variable columns) from the first row.

    A header is recognised by a mobile column title, or as a first row of text without a digit
    (its numbers then in the first column); variables then map by title where the titles match the
    template's variable names, else by position after the mobile column.
    """
    titles = [c.strip().lower() for c in first_row]
    mobile_col = next((i for i, t in enumerate(titles) if _title_key(t) in _MOBILE_KEYS), None)
    if mobile_col is None:
        if not _unknown_header(first_row):
            return False, 0, list(range(1, 1 + len(variable_names)))
        mobile_col = 0
    by_name = {t: i for i, t in enumerate(titles)}
    if variable_names and all(v.lower() in by_name for v in variable_names):
        return True, mobile_col, [by_name[v.lower()] for v in variable_names]
    others = [i for i in range(len(titles)) if i != mobile_col]
    return True, mobile_col, others[: len(variable_names)]

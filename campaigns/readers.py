"""Reading recipient files (CSV or XLSX) as a stream of rows, whatever Excel saved them as.

CSV encodings: a BOM wins (UTF-8, UTF-16); else strict UTF-8 if the whole file decodes; else
GB18030 (a superset of GBK/GB2312, what Excel in China saves). Nothing is loaded whole: CSV is
decoded incrementally, XLSX read with openpyxl's read-only streaming mode after a zip-bomb check.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

from django.utils.translation import gettext as _

CHUNK = 1 << 20
MAX_CELL_CHARS = 10_000
MAX_XLSX_UNCOMPRESSED = 500 * 1024 * 1024
MAX_XLSX_RATIO = 200
MOBILE_HEADERS = {"mobile", "phone", "number", "tel", "手机号", "手机", "手机号码", "号码", "电话", "电话号码"}


class UnreadableFile(ValueError):
    """The file cannot be read as recipients; the message tells the user what to do."""


def detect_encoding(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        fh.seek(0)
        for encoding in ("utf-8", "gb18030"):
            decoder = codecs.getincrementaldecoder(encoding)("strict")
            fh.seek(0)
            try:
                while chunk := fh.read(CHUNK):
                    if b"\x00" in chunk:
                        raise UnreadableFile(_("This is a binary file, not a CSV or XLSX list of numbers."))
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
                return encoding
            except UnicodeDecodeError:
                continue
    raise UnreadableFile(_("The file's text encoding is not UTF-8 or GB18030/GBK; save it as CSV UTF-8 and upload again."))


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


def iter_csv(path: Path) -> tuple[Iterator[list[str]], _CountingReader]:
    encoding = detect_encoding(path)
    with open(path, encoding=encoding, newline="", errors="replace") as fh:
        sample = fh.read(4096)
    raw = _CountingReader(open(path, "rb"))
    text = io.TextIOWrapper(io.BufferedReader(raw, CHUNK), encoding=encoding, newline="")
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|") if sample else csv.excel
    except csv.Error:
        dialect = csv.excel

    def rows():
        reader = csv.reader(text, dialect)
        try:
            yield from reader
        except csv.Error as exc:
            raise UnreadableFile(_("Line %(line)d cannot be read as CSV (%(error)s).") % {"line": reader.line_num, "error": exc}) from exc
        finally:
            text.close()

    return rows(), raw


def _check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
            packed = sum(info.compress_size for info in archive.infolist()) or 1
    except zipfile.BadZipFile as exc:
        raise UnreadableFile(_("This .xlsx file is damaged or not an Excel workbook.")) from exc
    if total > MAX_XLSX_UNCOMPRESSED or total / packed > MAX_XLSX_RATIO:
        raise UnreadableFile(_("This workbook expands to an unreasonable size; export the sheet as CSV and upload that."))


def iter_xlsx(path: Path) -> tuple[Iterator[list[str]], None]:
    _check_zip(path)
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken workbook
        raise UnreadableFile(_("This .xlsx file cannot be opened: %(error)s") % {"error": exc}) from exc

    def cell_text(value) -> str:
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    def rows():
        try:
            for values in workbook.worksheets[0].iter_rows(values_only=True):
                yield [cell_text(v) for v in values]
        finally:
            workbook.close()

    return rows(), None


def open_rows(path: Path, name: str):
    """(rows, byte_counter or None) for a recipients file, by its name's extension."""
    suffix = Path(name).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return iter_xlsx(path)
    if suffix in (".csv", ".txt", ""):
        return iter_csv(path)
    raise UnreadableFile(_("Upload a .csv or .xlsx file (got “%(name)s”).") % {"name": name})


def column_plan(first_row: list[str], variable_names: list[str]) -> tuple[bool, int, list[int]]:
    """(has_header, mobile column, variable columns) from the first row.

    A header is recognised by a mobile column title; variables then map by title where the
    titles match the template's variable names, else by position after the mobile column.
    """
    titles = [c.strip().lower() for c in first_row]
    mobile_col = next((i for i, t in enumerate(titles) if t in MOBILE_HEADERS), None)
    if mobile_col is None:
        return False, 0, list(range(1, 1 + len(variable_names)))
    by_name = {t: i for i, t in enumerate(titles)}
    if variable_names and all(v.lower() in by_name for v in variable_names):
        return True, mobile_col, [by_name[v.lower()] for v in variable_names]
    others = [i for i in range(len(titles)) if i != mobile_col]
    return True, mobile_col, others[: len(variable_names)]

"""imports.import_rows on its own: what a long import reports while it runs."""

from campaigns import imports
from tests.factories import make_campaign


def test_progress_is_reported_while_every_row_is_rejected(db, monkeypatch):
    """A list of bad or duplicate numbers is still a long job: its progress moves too."""
    monkeypatch.setattr(imports, "PROGRESS_EVERY", 2)
    campaign = make_campaign()
    reported = []
    rows = [(line, "12345", ["王", "SO1"]) for line in range(1, 8)]  # not a number: every row rejected
    result = imports.import_rows(campaign, rows, on_progress=lambda r: reported.append((r.rows, r.invalid)))
    assert (result.rows, result.accepted, result.invalid) == (7, 0, 7)
    assert reported == [(2, 1), (4, 3), (6, 5)]


def test_an_xlsx_file_tells_how_far_it_has_been_read(tmp_path):
    """A workbook is compressed: its progress comes from rows read against the rows it declares."""
    from openpyxl import Workbook

    from campaigns import readers

    workbook = Workbook()
    for i in range(100):
        workbook.active.append([f"1380013{i:04d}", "王", f"SO{i}"])
    path = tmp_path / "list.xlsx"
    workbook.save(path)
    size = path.stat().st_size
    rows, progress = readers.open_rows(path, "list.xlsx")
    seen = {n: progress.consumed for n, _row in enumerate(rows, 1) if n in (25, 50, 100)}
    assert (
        abs(seen[25] - size // 4) <= size * 2 // 100 and abs(seen[50] - size // 2) <= size * 2 // 100
    )  # a row or two read ahead
    assert seen[100] == size

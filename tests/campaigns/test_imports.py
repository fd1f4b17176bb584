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

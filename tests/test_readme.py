"""The README's generated parts stay current."""

import re
from pathlib import Path

from vendors.capabilities import capability_markdown

README = Path(__file__).resolve().parent.parent / "README.md"


def test_capability_table_matches_the_adapters():
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- capabilities -->\n(.*?)\n<!-- /capabilities -->", text, re.S).group(1)
    assert block == capability_markdown(), "run `python manage.py capabilities` and paste it into the README"


def test_readme_gives_the_two_commands():
    text = README.read_text(encoding="utf-8")
    assert "make run" in text and "make test" in text

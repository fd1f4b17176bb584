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


def test_every_setting_read_from_the_environment_is_documented():
    settings_source = (README.parent / "voiceops" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r'env(?:\.\w+)?\("([A-Z_]+)"', settings_source)) | set(
        re.findall(r'Env\(\)\.\w+\("([A-Z_]+)"', settings_source)
    )
    table = README.read_text(encoding="utf-8").split("### Configuration", 1)[1].split("\n## ", 1)[0]
    assert len(read) > 20
    assert sorted(name for name in read if f"`{name}`" not in table) == []

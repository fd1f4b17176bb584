"""The interface speaks Simplified Chinese: every string of ours has a zh_Hans translation."""

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


@pytest.fixture(scope="module")
def regenerated_catalogue(tmp_path_factory) -> polib.POFile:
    """makemessages over a copy of the sources, merged with the committed catalogue."""
    if not shutil.which("xgettext"):
        pytest.skip("GNU gettext is not installed (apt-get install gettext)")
    work = tmp_path_factory.mktemp("i18n")
    apps = sorted(p.name for p in ROOT.iterdir() if (p / "apps.py").exists())  # every app of ours
    for name in (*apps, "templates", "locale"):
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "manage.py", work / "manage.py")
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "voiceops.settings",
        "SECRET_KEY": "i18n-check-" + "x" * 40,
        "FIELD_ENCRYPTION_KEYS": "aTE4bi1jaGVjay1rZXktMzItYnl0ZXMtbG9uZy0x",
        "VOICEOPS_VAR_DIR": str(work / "var"),
        "VOICEOPS_ENV_FILE": str(work / "none.env"),
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete", "--no-location"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return polib.pofile(str(work / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"))


def test_every_string_has_a_translation(regenerated_catalogue):
    missing = [e.msgid for e in regenerated_catalogue if not e.translated() and not e.obsolete]
    assert not missing, f"{len(missing)} string(s) without a zh_Hans translation (run `make messages`): {missing[:20]}"


def test_compiled_catalogue_matches_the_translations():
    compiled = {e.msgid: e.msgstr for e in polib.mofile(str(MO))}
    stale = [
        e.msgid
        for e in polib.pofile(str(PO))
        if e.translated() and e.msgid and compiled.get(e.msgid) != e.msgstr and not e.msgid_plural
    ]
    assert not stale, f"django.mo is older than django.po (run `make messages`): {stale[:10]}"


def test_chinese_by_default_english_on_request(client, admin_user):
    client.force_login(admin_user)
    chinese = client.get("/admin/campaigns/campaign/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    english = client.get("/admin/campaigns/campaign/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "活动" in chinese
    assert "Campaigns" in english and "活动" not in english

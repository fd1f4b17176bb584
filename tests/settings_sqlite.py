"""Test settings on SQLite, the database ``make run`` uses: the fallbacks of ``campaigns.database``.

``make test`` runs the flow, demo and callback tests a second time with these settings
(``pytest --ds=tests.settings_sqlite -m sqlite``), so the code a newcomer runs first is tested too.
"""

import os

os.environ["DATABASE_URL"] = "sqlite:///:memory:"

from tests.settings import *  # noqa: E402,F403

DATABASES["default"]["TEST"] = {}  # noqa: F405  (in memory, one per run)

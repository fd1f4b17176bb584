"""Browser tests: Playwright for Python driving Debian's Chromium against a live server.

Playwright's sync API runs an event loop in this thread, so Django refuses ORM calls here unless
told otherwise; the tests drive the simulator eagerly from this thread, hence the variable below.
Screenshots of every page visited are saved under ``test-artifacts/screenshots/``.
"""

import os
import re
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# `UPDATE_README_SCREENSHOTS=1 pytest tests/browser/test_pages.py` retakes the README's pictures.
README_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "pw-browser-1234"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def roles(transactional_db):
    """The three groups (a transactional test's flush removes what the data migration made)."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    from campaigns.roles import ROLE_PERMISSIONS, permission_codenames

    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    for name in ROLE_PERMISSIONS:
        group, _created = Group.objects.get_or_create(name=name)
        group.permissions.set(
            [
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
                for app_label, codename in permission_codenames(name)
            ]
        )
    return ROLE_PERMISSIONS


@pytest.fixture
def make_user(roles):
    from django.contrib.auth.models import Group, User

    def make(username: str, group: str | None = None, **fields):
        user = User.objects.create_user(
            username, email=f"{username}@example.com", password=PASSWORD, is_staff=True, **fields
        )
        if group:
            user.groups.add(Group.objects.get(name=group))
        return user

    return make


@pytest.fixture
def web(browser, live_server, settings):
    """A function that opens a fresh browser context (one user's session) on the live server."""
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.LANGUAGE_CODE = "en"
    contexts = []

    def open_as(username: str | None = None, language: str = "en"):
        context = browser.new_context(
            viewport={"width": 1440, "height": 1000},
            locale="zh-CN" if language == "zh-hans" else "en-US",
            extra_http_headers={"Accept-Language": language},
            timezone_id="Asia/Shanghai",
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        session = Session(page, live_server.url)
        if username:
            session.login(username)
        return session

    yield open_as
    for context in contexts:
        context.close()


class Session:
    """One user's browser tab with small helpers; every ``go`` can save a screenshot."""

    def __init__(self, page, base_url: str):
        self.page, self.base = page, base_url

    def url(self, path: str) -> str:
        return self.base + path

    def go(self, path: str, shot: str | None = None):
        response = self.page.goto(self.url(path))
        self.page.wait_for_load_state("networkidle")
        if shot:
            self.shot(shot)
        return response

    def readme_shot(self, name: str, selector: str | None = None) -> None:
        """Save the page as one of the README's pictures (only when asked to, see above)."""
        if os.environ.get("UPDATE_README_SCREENSHOTS") != "1":
            return
        path = self.shot_of(selector, f"readme-{name}") if selector else self.shot(f"readme-{name}")
        README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (README_SCREENSHOTS / f"{name}.png").write_bytes(path.read_bytes())

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / (re.sub(r"[^\w.-]+", "-", name) + ".png")
        # Grow the window to the page's height first: sticky bars then sit where they belong
        # instead of being painted over the middle of a full-page capture.
        size = self.page.viewport_size
        height = self.page.evaluate("Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)")
        self.page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(height, 8000))})
        self.page.wait_for_timeout(400)  # let charts re-layout to the new size
        self.page.screenshot(path=str(path), full_page=True)
        self.page.set_viewport_size(size)
        return path

    def shot_of(self, selector: str, name: str) -> Path:
        """A screenshot of the viewport down to the bottom of one element (header and menu included)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / (re.sub(r"[^\w.-]+", "-", name) + ".png")
        box = self.page.locator(selector).bounding_box()
        size = self.page.viewport_size
        self.page.set_viewport_size({"width": size["width"], "height": int(box["y"] + box["height"] + 24)})
        self.page.wait_for_timeout(400)
        self.page.screenshot(path=str(path))
        self.page.set_viewport_size(size)
        return path

    def login(self, username: str, password: str = PASSWORD):
        self.go("/admin/login/?next=/admin/")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", password)
        self.page.click("button[type=submit], input[type=submit]")
        self.page.wait_for_load_state("networkidle")
        assert "/admin/login/" not in self.page.url, f"login failed for {username}"

    def canvas_painted(self, selector: str) -> bool:
        """Whether the canvas exists and has at least one non-transparent pixel."""
        return self.page.evaluate(
            """(selector) => {
                const canvas = document.querySelector(selector);
                if (!canvas || !canvas.width || !canvas.height) return false;
                const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) return true; }
                return false;
            }""",
            selector,
        )

    def wait_painted(self, selector: str, timeout: float = 10_000) -> bool:
        self.page.wait_for_selector(selector, state="attached")
        self.page.wait_for_function(
            """(selector) => {
                const canvas = document.querySelector(selector);
                if (!canvas || !canvas.width || !canvas.height) return false;
                const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) return true; }
                return false;
            }""",
            arg=selector,
            timeout=timeout,
        )
        return True

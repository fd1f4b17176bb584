"""Every admin and dashboard page, as each role, in zh-hans: no visible English.

The crawl starts at the admin home and the finance dashboard and follows every link it is shown.
On each page it reads what a person sees: text, placeholders, titles, labels and button captions
(not scripts, styles, icon ligatures, ``<code>``/``<pre>`` or form values). A run of ASCII letters
there is a failure unless it is data (a value stored in our tables), or on the reviewed allow-list
below: codes, units and names that stay as they are in a Chinese interface.
"""

import re
import zoneinfo
from collections import defaultdict
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

import pytest
from django.contrib.admin import site as admin_site
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from django.utils.translation import gettext_lazy

from apikeys.models import ApiKey
from apikeys.scopes import SEND_CALLS
from campaigns import services, single_calls
from campaigns.models import (
    CallbackEvent,
    CallRecord,
    Campaign,
    DoNotCallEntry,
    InboundReply,
    RecipientImport,
    VoiceTemplate,
)
from vendors.models import BalanceSnapshot, VendorAccount
from voiceops import audit
from webhooks.models import Delivery, DeliveryAttempt, Endpoint, Event

pytestmark = pytest.mark.django_db

# Reviewed allow-list: each entry is a code, a unit or a name that is not translated.
ALLOWED = {
    # names
    "VoiceOps",
    "English",  # the language switch names each language in itself
    "Celery",
    "Excel",
    "Asia/Shanghai",
    "UTC",
    "Webhook",  # the technical term, as Chinese consoles (Alibaba Cloud, DingTalk, Feishu) write it
    "webhook-id",  # the Standard Webhooks header that carries an event's id
    # vendors (the codes of VENDOR_CHOICES and their brands)
    "ihuyi",
    "emay",
    "vms57",
    "fungo",
    "sms10692",
    "simulator",
    "Emay",
    "VMS57",
    # formats, protocols and codes
    "CSV",
    "XLSX",
    "xlsx",
    "csv",
    "xlsm",
    "API",
    "URL",
    "ID",
    "id",
    "IP",
    "CIDR",  # the notation of an address network (10.0.0.0/8)
    "HTTP",
    "HTTPS",
    "JSON",
    "E.164",
    "GB18030",
    "GBK",
    "UTF-8",
    "SMS",
    "sha256",
    "md5",  # password hash algorithms, named on the user page
    "pbkdf2_sha256",
    "Control",  # keys, in Django's "hold down Control, or Command on a Mac"
    "Command",
    "Mac",
    "LDAP",
    "zh-hans",  # language codes beside their names in the language switch
    "en",
    "mobile",  # a column header a recipient file may use
    # what each vendor's console calls the account id (the account form tells which to paste)
    "APIID",
    "appId",
    "account",
    "CpName",
    "userid",
    # units
    "s",
    "ms",
    "MB",
    "KB",
    "GB",
    "B",
    "h",
    "min",
}

ALLOWED_LOWER = {word.lower() for word in ALLOWED}  # a code capitalised at the start of a title is still a code
SKIP_CONTENT = {"script", "style", "code", "pre", "kbd", "textarea", "svg", "template", "noscript"}
VISIBLE_ATTRIBUTES = ("placeholder", "title", "aria-label", "alt", "data-tooltip")
ICON_CLASSES = ("material-symbols", "material-icons")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.+-]*[A-Za-z0-9]|[A-Za-z]")
MASKED = re.compile(r"\w+\*{3,}")  # a secret shown masked is data
URL = re.compile(r"\b\w+://\S+")
DOTTED_NAME = re.compile(r"\b[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)+\b")  # task and module paths are codes
TIME_ZONES = zoneinfo.available_timezones()


class VisibleText(HTMLParser):
    """The strings a person reads on a rendered page, and the links it offers."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.links: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, hides its content)

    @property
    def hidden(self) -> bool:
        return any(hides for _tag, hides in self.stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        classes = attrs.get("class") or ""
        hides = tag in SKIP_CONTENT or any(icon in classes for icon in ICON_CLASSES)
        if not self.hidden:
            for name in VISIBLE_ATTRIBUTES:
                if attrs.get(name):
                    self.texts.append(attrs[name])
            if tag == "input" and attrs.get("type") in ("submit", "button", "reset") and attrs.get("value"):
                self.texts.append(attrs["value"])
        if tag not in VOID:
            self.stack.append((tag, hides))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return

    def handle_data(self, data):
        if not self.hidden and data.strip():
            self.texts.append(data.strip())


def english_words(html: str, data_words: set[str]) -> tuple[list[str], list[str]]:
    """(offending strings, links) of one page."""
    parser = VisibleText()
    parser.feed(html)
    offending = []
    for text in parser.texts:
        if text.replace(" ", "_") in TIME_ZONES:  # time zone names are codes
            continue
        plain = MASKED.sub("", DOTTED_NAME.sub("", URL.sub("", text)))
        words = [w for w in WORD.findall(plain) if w.lower() not in ALLOWED_LOWER and w.lower() not in data_words]
        if words:
            offending.append(text[:120])
    return offending, parser.links


def stored_words() -> set[str]:
    """Words of the values our users typed or vendors sent: data, shown as it is."""
    from django.apps import apps
    from django.db import models

    words: set[str] = set()

    def collect(value):
        if isinstance(value, str):
            words.update(word.lower() for word in WORD.findall(value))
        elif isinstance(value, dict):
            for key, item in value.items():
                collect(key)
                collect(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                collect(item)
        elif isinstance(value, (bytes, memoryview)):
            collect(bytes(value).decode("utf-8", "replace"))

    for app_label in ("campaigns", "vendors", "axes", "webhooks"):
        for model in apps.get_app_config(app_label).get_models():
            fields = [
                f.name
                for f in model._meta.concrete_fields
                if isinstance(f, (models.CharField, models.TextField, models.JSONField, models.BinaryField))
                and not f.choices
            ]
            for row in model.objects.values_list(*fields):
                collect(list(row))
    for user in User.objects.all():
        collect([user.username, user.email, user.first_name, user.last_name, user.username[:1]])  # avatar initial
    return words


def seed() -> None:
    """The demo, a finished campaign, and a row of every kind a page lists."""
    call_command("demo", recipients=12, stdout=open("/dev/null", "w"))
    campaign = Campaign.objects.get()
    services.launch(campaign)
    now = timezone.now()
    ids = list(CallRecord.objects.filter(campaign=campaign).order_by("id").values_list("id", flat=True))
    CallRecord.objects.filter(id__in=ids[::3]).update(
        state="answered", outcome="answered", raw_code="0", raw_message="接通", talk_seconds=30, billed_units=1,
        account=campaign.account, submitted_at=now, reported_at=now,
    )  # fmt: skip
    CallRecord.objects.filter(id__in=ids[1::3]).update(
        state="failed", outcome="busy", raw_code="2", raw_message="用户忙", account=campaign.account,
        submitted_at=now, reported_at=now,
    )  # fmt: skip
    account = VendorAccount.objects.get()
    VoiceTemplate.objects.create(account=account, name="草稿模板", content="您好【name】")
    CallbackEvent.objects.create(vendor="simulator", account=account, body=b'{"code": "0"}', state="applied")
    BalanceSnapshot.objects.create(account=account, amount="88.50", unit="元")
    DoNotCallEntry.objects.create(mobile="+8613800138999", reason="投诉")
    RecipientImport.objects.create(
        campaign=campaign, file="imports/x.csv", original_name="x.csv", state="done", rows=3, accepted=2, invalid=1,
        rejected_rows=[[2, "12345", "号码位数不对"]],
    )  # fmt: skip
    endpoint = Endpoint.objects.create(name="CRM 生产", url="https://crm.example.com/hooks", secret="whsec_AAAA")
    event = Event.objects.create(
        type="campaign.completed", object_id=campaign.pk, body='{"type": "campaign.completed"}'
    )
    failed = Delivery.objects.create(event=event, endpoint=endpoint, state="failed", tries=11, last_status=500)
    DeliveryAttempt.objects.create(delivery=failed, status_code=500, latency_ms=12, response_head="服务器错误")
    InboundReply.objects.create(account=account, mobile="+8613800138001", content="退订", received_at=now)
    admin = User.objects.create_user("crawl-admin", is_staff=True, is_superuser=True)
    key, _secret = ApiKey.objects.create_key(name="订单系统", scopes=[SEND_CALLS], created_by=admin)
    single_calls.place_call(
        single_calls.CallRequest(mobile="13800138002", product="verify", code="4821", out_id="login-1"),
        credential=f"key:{key.prefix}",
        key=key,
    )
    with override_settings(LANGUAGE_CODE="zh-hans"):  # the log is written in the interface's language
        audit.record(key, campaign, gettext_lazy("Paused"))  # a key's action: listed on the key's page


# Pages with no row of their own in the seed: login attempts appear only after a failed login.
UNSEEDED = {"axes.AccessAttempt"}


def test_the_seed_has_a_row_for_every_admin_page():
    """A page kind without a row is never crawled: its change page's words would go unchecked."""
    seed()
    empty = [
        model._meta.label
        for model in admin_site._registry
        if model._meta.label not in UNSEEDED and not model._default_manager.exists()
    ]
    assert empty == []


def login_as(client, role: str) -> User:
    user = User.objects.create_user(f"crawl-{role.lower()}", password="pw-crawl-1234", is_staff=True)
    if role == "superuser":
        user.is_superuser = True
        user.save()
    else:
        user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


SKIP_PATHS = ("/admin/logout/", "/admin/jsi18n/", "/i18n/", "/static/", "/api/")
MAX_VARIANTS = 2  # per page kind: two objects, two filtered lists; not every row and sort order


def crawl(client) -> dict[str, list[str]]:
    """{url: offending strings} over every page reachable from the admin home and the dashboards."""
    queue = ["/admin/", "/dashboard/finance/"]
    seen: set[str] = set(queue)
    variants: dict[str, int] = defaultdict(int)
    found: dict[str, list[str]] = {}
    data_words = stored_words()
    while queue:
        url = queue.pop(0)
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        offending, links = english_words(response.content.decode(), data_words)
        if offending:
            found[url] = offending
        for link in links:
            link = urldefrag(link).url
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or not parts.path.startswith(("/admin/", "/dashboard/")):
                continue
            if parts.path.startswith(SKIP_PATHS) or "_popup" in parts.query or link in seen:
                continue
            pattern = re.sub(r"/\d+/", "/<id>/", parts.path) + ("?" if parts.query else "")
            if variants[pattern] >= MAX_VARIANTS:
                continue
            variants[pattern] += 1
            seen.add(link)
            queue.append(link)
    return found


@pytest.mark.parametrize("role", ["superuser", "Operators", "Marketing", "Finance"])
def test_every_page_speaks_chinese(client, role):
    seed()
    login_as(client, role)
    found = crawl(client)
    first_seen: dict[str, str] = {}
    for url, texts in found.items():
        for text in texts:
            first_seen.setdefault(text, url)
    report = "\n".join(f"  {text!r}  ({url})" for text, url in first_seen.items())
    assert not found, f"English text on {len(found)} page(s) as {role}:\n{report}"


def test_the_crawler_sees_english_where_it_is():
    """The check can fail: English text, a placeholder and a button caption are caught; data is not."""
    html = (
        '<h1>活动</h1><p>No results found</p><input placeholder="Search"><input type="submit" value="Save">'
        '<span class="material-symbols-outlined">search</span><script>var x = "hello";</script>'
        "<td>Demo campaign</td><code>campaigns.dispatch.tick</code><td>30 s, 2 MB, CSV</td>"
    )
    offending, _links = english_words(html, data_words={"demo", "campaign"})
    assert offending == ["No results found", "Search", "Save"]


def test_login_page_speaks_chinese(client):
    """unfold's login page, before anyone has logged in."""
    response = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    offending, _links = english_words(response.content.decode(), data_words=set())
    assert response.status_code == 200 and not offending, offending
    assert "欢迎回到" in response.content.decode()

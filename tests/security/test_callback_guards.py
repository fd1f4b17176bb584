"""Callback defences as the probe tested them: the allow-list and rate limit see the real client
(through a trusted proxy only), and the rate is one allowance for all web processes."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.callbacks.helpers import dispatched, push
from tests.factories import make_account
from tests.fakes.ihuyi import FakeIhuyi

ROOT = Path(__file__).resolve().parents[2]
PROXY = "10.0.0.1"
VENDOR_ADDRESS = "192.0.2.7"


@pytest.fixture
def ihuyi(db, start_fake):
    fake = start_fake(FakeIhuyi())
    return fake


def account_with(fake, **fields):
    account = make_account("ihuyi", base_url=fake.url, api_id=fake.account, api_secret=fake.apikey, **fields)
    dispatched(account, recipients=1)
    return account, fake.push_body(fake.submitted[0]["vendor_message_id"], "2")


def test_the_allow_list_sees_the_client_a_trusted_proxy_names(client, ihuyi, settings):
    account, body = account_with(ihuyi, callback_allowed_ips=VENDOR_ADDRESS)
    settings.TRUSTED_PROXIES = [PROXY]
    client.defaults.update(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=VENDOR_ADDRESS)
    assert push(client, account, *body).status_code == 200
    client.defaults.update(HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert push(client, account, *body).status_code == 403
    from campaigns.models import CallbackEvent

    assert set(CallbackEvent.objects.values_list("remote_addr", flat=True)) == {VENDOR_ADDRESS}


def test_a_forged_forwarded_for_from_an_untrusted_peer_is_refused(client, ihuyi, settings):
    """Without a trusted proxy anyone could name the vendor's address in X-Forwarded-For."""
    account, body = account_with(ihuyi, callback_allowed_ips=VENDOR_ADDRESS)
    settings.TRUSTED_PROXIES = []
    client.defaults.update(REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR=VENDOR_ADDRESS)
    assert push(client, account, *body).status_code == 403
    settings.TRUSTED_PROXIES = [PROXY]  # a trusted proxy elsewhere does not make this peer one
    assert push(client, account, *body).status_code == 403


def _start_of_a_second():
    while time.time() % 1 > 0.3:
        time.sleep(0.05)


OTHER_PROCESS = """
import sys, django
django.setup()
from campaigns.callbacks.views import _within_rate
from vendors.models import VendorAccount
account = VendorAccount(pk=int(sys.argv[1]), callback_rate_limit=int(sys.argv[2]))
print("ready", flush=True)
sys.stdin.readline()
print("allowed" if _within_rate(account) else "refused", flush=True)
"""


def test_the_rate_limit_is_one_allowance_for_every_web_process(client, ihuyi):
    """The probe: four web workers allowed four times the rate. Another process, with its own
    memory, finds the allowance this one spent."""
    account, body = account_with(ihuyi, callback_rate_limit=3)
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_PROCESS, str(account.pk), "3"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout.readline().strip() == "ready"
        _start_of_a_second()
        statuses = [push(client, account, *body).status_code for _ in range(3)]
        other.stdin.write("go\n")
        other.stdin.flush()
        answer = other.stdout.readline().strip()
    finally:
        other.kill()
        other.wait()
    assert statuses == [200, 200, 200]
    assert answer == "refused"  # no fourth push in this second, whichever process takes it
    assert push(client, account, *body).status_code == 429


def test_an_oversized_callback_is_refused_before_its_body_is_read(client, ihuyi):
    account, _body = account_with(ihuyi)
    stream = CountingStream(b"x" * 100)
    response = client.generic(
        "POST",
        f"/api/callbacks/ihuyi/{account.callback_token}/",
        data=b"",
        CONTENT_LENGTH=str(6 * 1024 * 1024),
        **{"wsgi.input": stream},
    )
    assert response.status_code == 413 and stream.read_bytes == 0


class CountingStream:
    def __init__(self, data: bytes):
        self.data, self.read_bytes = data, 0

    def read(self, size=-1):
        chunk = self.data[: None if size is None or size < 0 else size]
        self.data = self.data[len(chunk) :]
        self.read_bytes += len(chunk)
        return chunk

    def readline(self, size=-1):
        return self.read(size)

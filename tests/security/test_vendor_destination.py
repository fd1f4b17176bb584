"""A vendor secret follows its destination: the probe's read-out through *Check balance now*.

An Operator pointed a fungo account at a listener of their own, left the secret blank ("keep
current") and pressed *Check balance now*: the listener received the stored password. The same
action showed the first 200 characters of any internal URL's answer in the admin and in
``last_error``, which Finance can read.
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth.models import Group, User

from tests.factories import make_account
from tests.fakes.fungo import FakeFungo
from vendors.models import VendorAccount

SECRET = "fungo-pass"
INTERNAL_PAGE = "<html><title>internal admin</title>INTERNAL-ONLY-DATA 42</html>"


class Listener:
    """An HTTP server of the attacker's: records every request, answers an internal-looking page."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self._answer()

            def do_POST(self):
                self._answer()

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                received.append(self.path + " " + self.rfile.read(length).decode("latin-1"))
                body = INTERNAL_PAGE.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.stop()


@pytest.fixture
def operator(client, db):
    user = User.objects.create_user("olivia", password="pw-olivia-12345", is_staff=True)
    user.groups.add(Group.objects.get(name="Operators"))
    client.force_login(user)
    return user


@pytest.fixture
def fungo(db, start_fake):
    fake = start_fake(FakeFungo())
    return make_account(
        "fungo",
        name="fungo-main",
        base_url=fake.url,
        allow_plain_http=True,
        api_id="fungo-cp",
        api_secret=SECRET,
        options={"app_id": fake.app_id, "template_id": "1001"},
    )


def form_data(account: VendorAccount, **changes) -> dict:
    data = {
        "name": account.name,
        "vendor": account.vendor,
        "is_active": "on",
        "base_url": account.base_url,
        "allow_plain_http": "on" if account.allow_plain_http else "",
        "api_id": account.api_id,
        "api_secret": "",  # "leave empty to keep the current secret"
        "user_id": account.user_id,
        "options": __import__("json").dumps(account.options),
        "rate_limit_per_second": account.rate_limit_per_second,
        "low_balance_threshold": "0",
        "price_per_unit": "",
        "callback_allowed_ips": account.callback_allowed_ips,
        "callback_rate_limit": account.callback_rate_limit,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def change(client, account, **changes):
    return client.post(f"/admin/vendors/vendoraccount/{account.pk}/change/", form_data(account, **changes))


def check_balance(client, account):
    return client.post(
        "/admin/vendors/vendoraccount/",
        {"action": "check_balance_now", "_selected_action": [account.pk]},
        follow=True,
    )


def test_the_stored_secret_is_not_sent_to_a_new_base_url(client, operator, fungo, listener):
    response = change(client, fungo, base_url=listener.url)
    assert response.status_code == 200  # the form again, with the error
    assert "Type the secret again" in response.content.decode()
    fungo.refresh_from_db()
    assert fungo.base_url != listener.url
    check_balance(client, fungo)
    assert not any(SECRET in r for r in listener.received)


def test_a_new_base_url_with_the_secret_typed_again_is_saved(client, operator, fungo, listener):
    response = change(client, fungo, base_url=listener.url, api_secret="typed-again")
    assert response.status_code == 302
    fungo.refresh_from_db()
    assert (fungo.base_url, fungo.api_secret) == (listener.url, "typed-again")


def test_changing_vendor_or_plain_http_needs_the_secret_again(client, operator, fungo):
    assert "Type the secret again" in change(client, fungo, vendor="sms10692").content.decode()
    https = make_account("fungo", base_url="https://qxt.fungo.cn", api_secret=SECRET, options=fungo.options)
    assert (
        "Type the secret again"
        in change(client, https, allow_plain_http="on", base_url="http://qxt.fungo.cn").content.decode()
    )


def test_ihuyi_plain_auth_mode_needs_the_secret_again(client, operator, db):
    ihuyi = make_account(
        "ihuyi",
        base_url="https://api.vm.ihuyi.com",
        api_id="C1",
        api_secret="apikey-1",
        options={"auth_mode": "dynamic"},
    )
    response = change(client, ihuyi, options='{"auth_mode": "plain"}')
    assert "Type the secret again" in response.content.decode()
    assert VendorAccount.objects.get(pk=ihuyi.pk).options == {"auth_mode": "dynamic"}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:18999/x#",
        "http://127.0.0.1:18999/x",
        "https://api.example.com/path?q=1",
        "https://user:pw@api.example.com",
        "ftp://api.example.com",
    ],
)
def test_base_url_is_scheme_host_and_port_only(client, operator, fungo, url):
    response = change(client, fungo, base_url=url, api_secret="typed-again")
    assert response.status_code == 200
    assert VendorAccount.objects.get(pk=fungo.pk).base_url == fungo.base_url


def test_plain_http_outside_debug_needs_the_operator_to_allow_it(client, operator, fungo):
    response = change(client, fungo, allow_plain_http="", base_url="http://qxt.fungo.cn", api_secret="x-typed")
    assert response.status_code == 200 and "allow plain HTTP" in response.content.decode()
    ok = change(client, fungo, allow_plain_http="on", base_url="http://qxt.fungo.cn", api_secret="x-typed")
    assert ok.status_code == 302


def test_a_host_the_vendor_does_not_document_is_warned_about(client, operator, fungo):
    response = client.post(
        f"/admin/vendors/vendoraccount/{fungo.pk}/change/",
        form_data(fungo, base_url="https://fungo.example.net", api_secret="typed-again"),
        follow=True,
    )
    assert "fungo.example.net" in response.content.decode() and "qxt.fungo.cn" in response.content.decode()


def test_check_balance_shows_no_raw_answer_of_whatever_host_answered(client, operator, db, listener):
    """The account (secret typed by whoever set it up) points at an internal page: neither the admin
    message nor the last error Finance reads quotes that page."""
    account = make_account("fungo", base_url=listener.url, allow_plain_http=True, api_id="cp", api_secret="pw")
    response = check_balance(client, account)
    page = response.content.decode()
    assert "INTERNAL-ONLY-DATA" not in page and "internal admin" not in page
    assert "bad_response" in page  # the operator still learns the answer was not the vendor's format
    account.refresh_from_db()
    assert "INTERNAL-ONLY-DATA" not in account.last_error and "<html>" not in account.last_error
    assert account.last_error.startswith("[bad_response]") and len(account.last_error) <= 300


def test_the_callback_guards_are_in_the_operators_form(client, operator, fungo):
    page = client.get(f"/admin/vendors/vendoraccount/{fungo.pk}/change/").content.decode()
    assert 'name="callback_allowed_ips"' in page and 'name="callback_rate_limit"' in page
    response = change(client, fungo, callback_allowed_ips="192.0.2.0/24", callback_rate_limit="50")
    assert response.status_code == 302
    fungo.refresh_from_db()
    assert (fungo.callback_allowed_ips, fungo.callback_rate_limit) == ("192.0.2.0/24", 50)
    bad = change(client, fungo, callback_allowed_ips="not-an-address")
    assert bad.status_code == 200 and "not an address or network" in bad.content.decode()


def test_a_template_submitted_to_a_host_that_answers_a_page_quotes_none_of_it(db, listener):
    from campaigns import templates_service
    from campaigns.models import VoiceTemplate

    account = make_account("ihuyi", base_url=listener.url, allow_plain_http=True, api_id="C1", api_secret="k")
    template = VoiceTemplate.objects.create(account=account, name="t", content="您的订单【变量】已发货")
    result = templates_service.submit_template(template)
    assert not result.ok and "bad_response" in result.message
    assert "INTERNAL-ONLY-DATA" not in result.message and "<html>" not in result.message


def test_an_account_without_a_secret_moves_freely(client, operator, db):
    account = make_account("simulator", base_url="")
    response = change(client, account, base_url="https://sim.example.com")
    assert response.status_code == 302
    assert VendorAccount.objects.get(pk=account.pk).base_url == "https://sim.example.com"

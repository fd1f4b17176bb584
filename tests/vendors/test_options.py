"""Account options: declared by each adapter, refused when saved (one error code), read cleaned."""

import inspect
import json

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from campaigns.models import Campaign
from vendors.adapters import ADAPTERS, BAD_OPTION, adapter_class
from vendors.adapters.base import PRODUCTS, VendorError
from vendors.adapters.options import Option
from vendors.models import VendorAccount


def account(vendor, options, **fields):
    fields = {"name": f"{vendor} account", "base_url": "http://127.0.0.1:9", "allow_plain_http": True, **fields}
    return VendorAccount(vendor=vendor, options=options, **fields)


def option_errors(vendor, options) -> list[str]:
    try:
        account(vendor, options).clean()
    except ValidationError as exc:
        assert {e.code for e in exc.error_dict["options"]} == {BAD_OPTION}  # one code for every problem
        return [m for e in exc.error_dict["options"] for m in e.messages]
    return []


@pytest.mark.parametrize("code", list(ADAPTERS))
def test_every_declared_option_is_documented_in_the_adapter(code):
    cls = adapter_class(code)
    doc = inspect.getmodule(cls).__doc__
    assert cls.option_specs, f"{code} declares no options"
    for key, spec in cls.option_specs.items():
        assert isinstance(spec, Option) and f"``{key}``" in doc, f"{code}: option {key} is not in the docstring"
        assert set(spec.required_for) <= set(cls.products)


@pytest.mark.parametrize(
    ("vendor", "options"),
    [
        ("simulator", {"answer_rate": 0.62, "seed": 7, "report_delay": [2, 15]}),  # the demo's account
        ("simulator", {"answer_rate": 0, "failure_mix": {"no_answer": 1}, "report_delay": [0, 0]}),
        ("emay", {"line": "join", "push_mode": "encrypted", "balance_unit": "CNY", "is_interactive": "true"}),
        ("emay", {"trigger_conditions": 4, "connect_time": 10, "key_content": "1", "sms_content": "回复TD退订"}),
        ("fungo", {"content_format": "TTS", "app_id": "8a48", "template_id": "1001", "content_labels": False}),
        ("fungo", {"sub_account": "1", "ext_code": "8888", "recording_file": "a.wav"}),
        ("ihuyi", {"auth_mode": "plain", "format": "json"}),
        ("sms10692", {"encoding": "GB2312", "ext_no": "0123456789"}),
        ("vms57", {"caller_number": "02160000000", "balance_unit": "calls", "report_max_pulls": "5"}),
        ("ihuyi", {}),
    ],
)
def test_usable_options_are_accepted(vendor, options):
    assert option_errors(vendor, options) == []


@pytest.mark.parametrize(
    ("vendor", "options", "named"),
    [
        ("fungo", {"conent_format": "tts"}, "conent_format"),  # a typo in a key
        ("fungo", {"content_format": "video"}, '"video"'),
        ("fungo", {"content_labels": "maybe"}, "content_labels"),
        ("emay", {"line": "sms"}, "line"),
        ("emay", {"push_mode": "aes"}, "push_mode"),
        ("emay", {"trigger_conditions": "5"}, "trigger_conditions"),
        ("emay", {"connect_time": 61}, "connect_time"),
        ("emay", {"key_content": "a"}, "key_content"),
        ("ihuyi", {"auth_mode": "md5"}, "auth_mode"),
        ("ihuyi", {"format": "yaml"}, "format"),
        ("sms10692", {"encoding": "big5"}, "encoding"),
        ("sms10692", {"ext_no": "12a"}, "ext_no"),
        ("vms57", {"report_max_pulls": "ten"}, '"ten"'),
        ("vms57", {"report_max_pulls": 0}, "report_max_pulls"),
        ("simulator", {"answer_rate": 1.5}, "answer_rate"),
        ("simulator", {"report_delay": [20, 1]}, "report_delay"),
        ("simulator", {"failure_mix": {"nobody": 1}}, "failure_mix"),
        ("simulator", {"failure_mix": {"busy": 0}}, "failure_mix"),
    ],
)
def test_unusable_options_are_refused_when_saved(vendor, options, named):
    [message] = option_errors(vendor, options)
    assert named in message


def test_options_must_be_an_object_and_every_problem_is_named():
    assert option_errors("ihuyi", ["plain"]) == ["Options must be a JSON object, e.g. {}."]
    assert len(option_errors("emay", {"line": "x", "push_mode": "y", "lien": "voice"})) == 3


def test_the_error_speaks_the_users_language():
    with translation.override("zh-hans"):
        [message] = option_errors("fungo", {"conent_format": "tts"})
    assert "conent_format" in message and "content_format" in message and "选项" in message


@pytest.mark.django_db
def test_the_admin_form_refuses_a_typo_and_saves_nothing(admin_client):
    form = {
        "name": "fungo main",
        "vendor": "fungo",
        "is_active": "on",
        "base_url": "http://127.0.0.1:1",
        "allow_plain_http": "on",
        "callback_allowed_ips": "",
        "callback_rate_limit": 50,
        "api_id": "cp",
        "api_secret": "secret",
        "user_id": "",
        "options": json.dumps({"app_id": "8a48", "template_id": "1001", "content_fromat": "tts"}),
        "rate_limit_per_second": 5,
        "low_balance_threshold": "0",
        "price_per_unit": "",
    }
    response = admin_client.post("/admin/vendors/vendoraccount/add/", form, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "content_fromat" in response.content.decode() and not VendorAccount.objects.exists()
    form["options"] = json.dumps({"app_id": "8a48", "template_id": "1001", "content_format": "tts"})
    assert admin_client.post("/admin/vendors/vendoraccount/add/", form).status_code == 302
    assert VendorAccount.objects.get().options["content_format"] == "tts"


@pytest.mark.django_db
def test_a_campaign_needs_the_options_its_product_requires():
    fungo = VendorAccount.objects.create(vendor="fungo", name="fungo", options={"app_id": "8a48"})
    campaign = Campaign(name="notice", account=fungo, product="notify", content="您好")
    with pytest.raises(ValidationError) as err:
        campaign.clean()
    assert err.value.code == BAD_OPTION and "template_id" in err.value.messages[0]
    Campaign(name="code", account=fungo, product="verify", content="1234").clean()  # verify needs neither


@pytest.mark.parametrize("code", list(ADAPTERS))
def test_a_value_stored_before_it_could_be_checked_fails_with_the_same_code(code):
    cls = adapter_class(code)
    key, spec = next((k, s) for k, s in cls.option_specs.items() if s.kind is not str or s.choices or s.pattern)
    adapter = cls(account(code, {key: {"not": "a value"}}))
    with pytest.raises(VendorError) as err:
        adapter.option(key)
    assert err.value.code == BAD_OPTION and key in err.value.message


def test_products_required_options_are_refused_at_send_not_dialled():
    adapter = adapter_class("fungo")(account("fungo", {}))
    with pytest.raises(VendorError) as err:
        adapter.send([], product="notify")
    assert err.value.code == BAD_OPTION and "app_id" in err.value.message
    assert set(adapter_class("fungo").products) <= set(PRODUCTS)


@pytest.mark.django_db
def test_the_admin_shows_what_each_option_takes(admin_client):
    fungo = VendorAccount.objects.create(vendor="fungo", name="fungo", options={})
    page = admin_client.get(f"/admin/vendors/vendoraccount/{fungo.pk}/change/", HTTP_ACCEPT_LANGUAGE="en").content
    page = page.decode()
    assert "<code>content_labels</code>" in page
    assert "<code>true</code> or <code>false</code>; default <code>true</code>" in page  # as typed: code
    assert "required for <code>notify</code>" in page and "<code>push_mode</code>" not in page  # this vendor's
    add = admin_client.get("/admin/vendors/vendoraccount/add/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert all(f"<code>{key}</code>" in add for code in ADAPTERS for key in adapter_class(code).option_specs)
    assert "取值之一" in add

"""Every callback parser, on any bytes, headers and query: a ParsedCallback or CallbackRejected, nothing else.

Besides raw noise, the strategies build near-valid pushes (the fields each vendor documents, with
hostile values), so the parsers' inner paths are reached too; Emay's encrypted mode gets bodies
encrypted with the account's own key, so decryption succeeds and the JSON parser is exercised.
"""

from __future__ import annotations

import gzip
import json
from urllib.parse import urlencode

import pytest
from Crypto.Cipher import AES
from Crypto.Util.Padding import pad
from hypothesis import example, given, settings
from hypothesis import strategies as st

from vendors.adapters import CallbackRejected, ParsedCallback, adapter_class, get_adapter
from vendors.adapters.base import OUTCOMES
from vendors.models import VendorAccount

SETTINGS = settings(max_examples=200, deadline=None)
APP_ID, KEY = "EUCP-EMY-TEST-00001", "Sk3y-0123456789a"
ACCOUNTS = {
    "ihuyi": VendorAccount(vendor="ihuyi", name="ihuyi", api_id="test", api_secret="key"),
    "emay": VendorAccount(vendor="emay", name="emay", api_id=APP_ID, api_secret=KEY),
    "emay-encrypted": VendorAccount(
        vendor="emay", name="emay-enc", api_id=APP_ID, api_secret=KEY, options={"push_mode": "encrypted"}
    ),
    "fungo": VendorAccount(vendor="fungo", name="fungo", api_id="cp", api_secret="pw"),
    "simulator": VendorAccount(vendor="simulator", name="simulator"),
}
PUSH_VENDORS = sorted(ACCOUNTS)
assert {a.vendor for a in ACCOUNTS.values()} == {
    code
    for code in ("ihuyi", "emay", "fungo", "simulator", "vms57", "sms10692")
    if adapter_class(code).supports("parse_callback")
}

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
NUMBERish = st.one_of(
    TEXT,
    st.from_regex(r"-?[0-9]{1,12}(\.[0-9]{1,3})?", fullmatch=True),
    st.sampled_from(["1e1000000", "-1", "NaN", "Infinity", "0", "2", "９", "²", "1_000", " 12 "]),
)
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT, NUMBERish)
JSON = st.recursive(
    SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)
FIELDS = {
    "ihuyi": ["voiceid", "code", "msg", "mobilephone", "talktime", "report_time", "templateid"],
    "emay": [
        "voiceId",
        "customVoiceId",
        "joinId",
        "customJoinId",
        "state",
        "message",
        "desc",
        "callingTime",
        "callingDuration",
        "mobile",
        "keyContent",
        "appId",
    ],
    "fungo": ["args", "userMoblie", "userMobile", "content", "cpMoblie"],
    "simulator": [
        "code",
        "vendor_message_id",
        "custom_id",
        "mobile",
        "talk_seconds",
        "billed_seconds",
        "key",
        "message",
        "at",
    ],
}


def vendor_of(label: str) -> str:
    return ACCOUNTS[label].vendor


@st.composite
def form_pushes(draw, vendor: str) -> bytes:
    fields = draw(st.dictionaries(st.sampled_from(FIELDS[vendor]), NUMBERish, max_size=6))
    if vendor == "fungo" and draw(st.booleans()):
        records = draw(st.lists(st.tuples(TEXT, NUMBERish, NUMBERish), max_size=4))
        fields["args"] = ";".join(",".join(r) for r in records)
    return urlencode(fields).encode()


@st.composite
def json_pushes(draw, vendor: str) -> bytes:
    items = draw(
        st.lists(
            st.one_of(JSON, st.dictionaries(st.sampled_from(FIELDS[vendor]), st.one_of(NUMBERish, JSON), max_size=8)),
            max_size=4,
        )
    )
    key = "reports" if vendor == "simulator" else "data"
    document = draw(st.sampled_from([{key: items}, {"code": "SUCCESS", key: items}, items, {key: draw(JSON)}]))
    return json.dumps(document, ensure_ascii=draw(st.booleans())).encode()


def encrypted(document: bytes) -> bytes:
    return AES.new(KEY.encode(), AES.MODE_ECB).encrypt(pad(gzip.compress(document), AES.block_size))


@st.composite
def pushes(draw, label: str) -> tuple[bytes, dict[str, str], dict[str, str]]:
    vendor = vendor_of(label)
    body = draw(
        st.one_of(
            st.binary(max_size=300),
            form_pushes(vendor if vendor in FIELDS else "ihuyi"),
            json_pushes(vendor if vendor in FIELDS else "ihuyi"),
        )
    )
    if label == "emay-encrypted" and draw(st.booleans()):
        body = encrypted(body)
    headers = draw(st.dictionaries(TEXT, TEXT, max_size=3))
    if vendor == "emay" and draw(st.booleans()):
        headers[draw(st.sampled_from(["appId", "appid", "APPID", "HTTP_APPID"]))] = draw(
            st.sampled_from([APP_ID, "", APP_ID + " ", "x"])
        )
    query = draw(
        st.one_of(
            st.dictionaries(TEXT, TEXT, max_size=3),
            st.dictionaries(st.sampled_from(sum(FIELDS.values(), [])), NUMBERish, max_size=4),
        )
    )
    return body, headers, query


def assert_parsed_or_rejected(label: str, body: bytes, headers: dict, query: dict) -> None:
    adapter = get_adapter(ACCOUNTS[label])
    try:
        parsed = adapter.read_callback(body, headers, query)
    except CallbackRejected as exc:
        assert str(exc)
        return
    assert isinstance(parsed, ParsedCallback)
    assert isinstance(parsed.ack_body, str) and isinstance(parsed.ack_status, int)
    for report in parsed.reports:
        assert report.outcome in OUTCOMES
        assert report.answered == (report.outcome == "answered")
        if label != "simulator":  # the simulator trusts its own numbers (see test below)
            assert report.talk_seconds is None or 0 <= report.talk_seconds <= 10**6


@pytest.mark.parametrize("label", PUSH_VENDORS)
def test_every_callback_parser_answers_a_parse_or_a_rejection(label):
    @SETTINGS
    @given(pushes(label))
    @example((b"", {}, {}))
    @example((b"\xff\xfe\x00", {"appId": APP_ID}, {"args": "a,b,c"}))
    @example((b"voiceid=1&code=2&talktime=1e1000000", {}, {}))
    @example((b'{"data": [{"callingDuration": "1e1000000", "state": "SUCCESS"}]}', {"appId": APP_ID}, {}))
    @example((encrypted(b'{"data": [{"state": "SUCCESS", "callingDuration": -3}]}'), {"appId": APP_ID}, {}))
    @example((b"args=k,13800138000,0;;,,;k2,x,9995", {}, {}))
    @example((b'{"reports": [{"code": "0", "vendor_message_id": "1", "at": "2026-02-30T00:00:00"}]}', {}, {}))
    def check(push):
        assert_parsed_or_rejected(label, *push)

    check()


@pytest.mark.parametrize("label", PUSH_VENDORS)
def test_deeply_nested_json_is_rejected_not_a_recursion_error(label):
    nested = b'{"data": ' + b"[" * 100_000
    body = encrypted(nested) if label == "emay-encrypted" else nested
    assert_parsed_or_rejected(label, body, {"appId": APP_ID}, {})

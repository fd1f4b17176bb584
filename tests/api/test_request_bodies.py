"""A body the API cannot read is refused with a sentence in the caller's language that says what to
fix, never Python's English (voiceops.api.parsers, voiceops.api.serializers, voiceops.library_i18n)."""

import pytest

from campaigns.models import SingleCall
from tests.api.helpers import error_text, errors
from tests.calls.helpers import integrator

pytestmark = pytest.mark.django_db

CALL = '{"product": "notice", "mobile": "13800138000", "content": "您好", "out_id": "a\\u0000b"}'


def post(body: bytes | str, language: str = "en"):
    return integrator().post("/api/calls/", body, content_type="application/json", HTTP_ACCEPT_LANGUAGE=language)


@pytest.mark.parametrize(
    ("body", "english", "chinese"),
    [
        (
            '{"mobile": , "product": "notice"}',
            "The body is not valid JSON (line 1, column 12): check the quotes, commas and brackets there.",
            "请求体不是有效的 JSON（第 1 行第 12 列）：请检查该处的引号、逗号和括号。",
        ),
        ('{\n  "mobile": "138",\n  "product": notice}', "(line 3, column 14)", "（第 3 行第 14 列）"),
        (b'{"mobile": "\xff\xfe"}', "The body is not UTF-8 text (it holds the byte 0xFF", "请用 UTF-8 编码发送 JSON"),
        ('{"mobile": NaN}', "NaN and Infinity are not numbers JSON allows", "JSON 不允许 NaN 和 Infinity"),
    ],
)
def test_a_body_that_is_not_json_says_where_and_what_to_fix(body, english, chinese):
    for language, expected in (("en", english), ("zh-hans", chinese)):
        response = post(body, language)
        assert response.status_code == 400
        assert errors(response)[0]["code"] == "parse_error"
        text = error_text(response)
        assert expected in text
        assert "JSON parse error" not in text and "Expecting" not in text and "codec" not in text
    assert not SingleCall.objects.exists()


@pytest.mark.parametrize(("body", "code", "got", "got_chinese"), [
    ("null", "null", "not null", "收到的却是null"),
    ("[1, 2]", "invalid", "not a list", "收到的却是列表"),
    ('"call me"', "invalid", "not a string", "收到的却是字符串"),
])  # fmt: skip
def test_a_body_that_is_no_object_asks_for_one_with_the_fields(body, code, got, got_chinese):
    response = post(body)
    assert response.status_code == 400
    assert [e["code"] for e in errors(response)] == [code]
    fields = "mobile, product, code, template, variables, content, out_id, account"
    assert error_text(response) == f"Send a JSON object with the fields {fields}, {got}."
    chinese = error_text(post(body, "zh-hans"))
    assert chinese.startswith("请发送一个 JSON 对象，字段为 mobile, product") and got_chinese in chinese
    assert "No data provided" not in chinese and "字典" not in chinese and "list" not in chinese.split("字段为")[0]


def test_a_nul_character_in_a_text_field_is_named_in_either_language():
    response = post(CALL)
    assert response.status_code == 400
    (error,) = [e for e in errors(response) if e["attr"] == "out_id"]
    assert (error["code"], error["detail"]) == (
        "null_characters_not_allowed",
        "Text may not contain the NUL character (\\0).",
    )
    chinese = [e["detail"] for e in errors(post(CALL, "zh-hans")) if e["attr"] == "out_id"]
    assert chinese == ["文本不能包含 NUL 字符（\\0）。"]  # not "不允许是用空字符串" (no empty string is involved)
    assert not SingleCall.objects.exists()

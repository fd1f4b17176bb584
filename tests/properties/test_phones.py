"""Number normalization: every spelling of a valid number gives one E.164; garbage only ever InvalidNumber."""

from __future__ import annotations

import re

import phonenumbers
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from campaigns.phones import InvalidNumber, normalize

SETTINGS = settings(max_examples=200, deadline=None)
E164_CHINA = re.compile(r"\+86[0-9]{5,12}")  # service numbers such as 010 95xxx are valid too
FULL_WIDTH = str.maketrans("0123456789+", "０１２３４５６７８９＋")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
# 号段 in use (ranges phonenumbers' metadata knows); each candidate is still checked with phonenumbers.
MOBILE_PREFIXES = [f"13{d}" for d in range(10)] + [
    "145",
    "147",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "172",
    "173",
    "175",
    "176",
    "177",
    "178",
    "180",
    "181",
    "182",
    "183",
    "184",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "193",
    "195",
    "196",
    "197",
    "198",
    "199",
]
AREA_CODES = [
    "10",
    "20",
    "21",
    "22",
    "23",
    "24",
    "25",
    "27",
    "28",
    "29",
    "311",
    "351",
    "371",
    "431",
    "451",
    "471",
    "510",
    "512",
    "531",
    "551",
    "571",
    "591",
    "731",
    "755",
    "757",
    "760",
    "769",
    "791",
    "851",
    "871",
    "898",
]
SEPARATORS = [" ", "-", "\u3000", "\u00a0", "－", "‐", "."]


def is_valid(national: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(national, "CN"))
    except phonenumbers.NumberParseException:
        return False


@st.composite
def mobiles(draw) -> str:
    national = draw(st.sampled_from(MOBILE_PREFIXES)) + draw(st.from_regex(r"[0-9]{8}", fullmatch=True))
    assume(is_valid(national))
    return national


@st.composite
def landlines(draw) -> tuple[str, str]:
    """(area code, subscriber number), valid for phonenumbers."""
    area = draw(st.sampled_from(AREA_CODES))
    length = (
        8
        if len(area) == 2 or area in ("755", "757", "760", "769", "512", "571", "510")
        else draw(st.sampled_from([7, 8]))
    )
    subscriber = draw(st.from_regex(rf"[2-8][0-9]{{{length - 1}}}", fullmatch=True))
    assume(is_valid("0" + area + subscriber))
    return area, subscriber


def digits_style(draw, text: str) -> str:
    style = draw(st.sampled_from(["ascii", "full-width", "arabic-indic", "mixed"]))
    if style == "full-width":
        return text.translate(FULL_WIDTH)
    if style == "arabic-indic":
        return text.translate(ARABIC_INDIC)
    if style == "mixed":
        return "".join(c.translate(FULL_WIDTH) if draw(st.booleans()) else c for c in text)
    return text


@st.composite
def mobile_spellings(draw) -> tuple[str, str]:
    """(a valid mobile's national number, one way people write it)."""
    national = draw(mobiles())
    prefix = draw(st.sampled_from(["", "+86", "0086", "86", "+86 ", "0086 ", "86-", "(+86)", "(+86) ", "+86-"]))
    separator = draw(st.sampled_from(["", *SEPARATORS]))
    body = separator.join([national[:3], national[3:7], national[7:]])
    spelled = digits_style(draw, prefix + body)
    if not prefix and draw(st.booleans()):
        spelled = national + ".0"  # through a spreadsheet as a float
    pad = draw(st.sampled_from(["", " ", "\t", "\u3000", " \n"]))
    return national, pad + spelled + pad


@st.composite
def landline_spellings(draw) -> tuple[str, str]:
    area, subscriber = draw(landlines())
    form = draw(
        st.sampled_from(
            ["0{a}-{s}", "0{a} {s}", "(0{a}) {s}", "0{a}{s}", "+86 {a} {s}", "0086{a}{s}", "+86-{a}-{s}", "（0{a}）{s}"]
        )
    )
    return area + subscriber, digits_style(draw, form.format(a=area, s=subscriber))


@SETTINGS
@given(mobile_spellings())
@example(("13800138000", "１３８ ００１３ ８０００"))
@example(("13800138000", "1３８００１３８０００"))
@example(("13800138000", "+86 138-0013-8000"))
@example(("13800138000", "13800138000.0"))
def test_every_spelling_of_a_valid_mobile_normalizes_to_the_same_e164(case):
    national, spelled = case
    assert normalize(spelled) == "+86" + national


@SETTINGS
@given(landline_spellings())
@example(("1012345678", "010-12345678"))
@example(("75512345678", "0755 1234 5678"))
def test_every_spelling_of_a_valid_landline_normalizes_to_the_same_e164(case):
    national, spelled = case
    assert normalize(spelled) == "+86" + national


@SETTINGS
@given(st.from_regex(r"1[0-9]{10}", fullmatch=True))
@example("17900009999")  # 179xx is a call-by-call prefix, not a mobile range
@example("19200000000")
def test_an_eleven_digit_number_is_accepted_exactly_when_phonenumbers_says_it_is_valid(national):
    """The cache of seven-digit prefixes never answers differently from the library."""
    try:
        result = normalize(national)
    except InvalidNumber:
        assert not is_valid(national)
    else:
        assert is_valid(national) and result == "+86" + national


def normalizes(text: str) -> str | None:
    try:
        return normalize(text)
    except InvalidNumber:
        return None


@SETTINGS
@given(
    st.one_of(
        mobile_spellings().map(lambda c: c[1]),
        landline_spellings().map(lambda c: c[1]),
        st.text(alphabet="0123456789+-() 86１３８", max_size=20),
    )
)
def test_normalize_is_idempotent_on_its_output(text):
    first = normalizes(text)
    assume(first is not None)
    assert E164_CHINA.fullmatch(first), first
    assert normalize(first) == first


@SETTINGS
@given(
    st.one_of(
        st.text(max_size=60),
        st.text(alphabet="0123456789+-()．.eE ext转分机#*,;\u3000\u200b", max_size=40),
        st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
        st.integers().map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(str),
    )
)
@example("1.38001E+10")
@example("010-12345678 ext 123")
@example("010-12345678转123")
@example("\x00")
@example("1" * 5000)
@example("+" * 300)
@example("٣٨")
def test_garbage_never_raises_anything_but_invalid_number(text):
    try:
        result = normalize(text)
    except InvalidNumber as exc:
        assert str(exc)  # always a reason a person can read
    else:
        assert E164_CHINA.fullmatch(result) and result.isascii(), result

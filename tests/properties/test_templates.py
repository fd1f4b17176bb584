"""Template variable filling: 【name】 placeholders take the values in order, and nothing is left over."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from campaigns.models import VARIABLE_PATTERN, VoiceTemplate

SETTINGS = settings(max_examples=200, deadline=None)
LITERAL = st.text(alphabet=st.characters(blacklist_characters="【】", blacklist_categories=("Cs",)), max_size=12)
NAME = st.text(alphabet=st.characters(blacklist_characters="】", blacklist_categories=("Cs",)), min_size=1, max_size=8)
VALUE = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@st.composite
def templates(draw) -> tuple[list[str], list[str]]:
    """(literal pieces, placeholder names): content = lit0 【n1】 lit1 【n2】 … litN."""
    names = draw(st.lists(NAME, max_size=6))
    literals = draw(st.lists(LITERAL, min_size=len(names) + 1, max_size=len(names) + 1))
    return literals, names


def content_of(literals: list[str], names: list[str]) -> str:
    return literals[0] + "".join(f"【{name}】{literal}" for name, literal in zip(names, literals[1:], strict=True))


def filled(literals: list[str], values: list[str]) -> str:
    return literals[0] + "".join(value + literal for value, literal in zip(values, literals[1:], strict=True))


@SETTINGS
@given(templates(), st.lists(VALUE, max_size=8), st.data())
@example((["您的验证码是", "，5分钟内有效。"], ["code"]), ["1234"], None)
@example((["", "您好，订单", "已发货。"], ["name", "order"]), ["王【先生】", r"\1\g<0>"], None)
def test_values_fill_the_placeholders_in_order_and_none_is_left_over(template, values, data):
    literals, names = template
    if data is not None:  # enough values for every placeholder, extras ignored
        values = values + data.draw(st.lists(VALUE, min_size=len(names), max_size=len(names)))
    template_row = VoiceTemplate(content=content_of(literals, names))
    assert template_row.variable_names == names
    rendered = template_row.render(values)
    assert rendered == filled(literals, values[: len(names)])
    # every value appears, in order
    position = 0
    for value in values[: len(names)]:
        found = rendered.find(value, position)
        assert found >= 0
        position = found + len(value)
    # no placeholder survives unless a value itself carried one
    if not any("【" in v or "】" in v for v in values):
        assert not VARIABLE_PATTERN.search(rendered)


@SETTINGS
@given(templates(), st.lists(VALUE, max_size=6))
def test_missing_values_leave_an_empty_slot_never_a_placeholder(template, values):
    literals, names = template
    values = values[: max(len(names) - 1, 0)]  # at least one short
    rendered = VoiceTemplate(content=content_of(literals, names)).render(values)
    assert rendered == filled(literals, values + [""] * (len(names) - len(values)))
    if not any("【" in v or "】" in v for v in values):
        assert not VARIABLE_PATTERN.search(rendered)

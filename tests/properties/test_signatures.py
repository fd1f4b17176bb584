"""Vendor signatures (md5 over the documented concatenation): deterministic, lower-case hex, input-sensitive."""

from __future__ import annotations

import hashlib
import re

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vendors.adapters.emay import make_sign as emay_sign
from vendors.adapters.ihuyi import IhuyiAdapter
from vendors.adapters.sms10692 import make_sign as sms10692_sign
from vendors.models import VendorAccount

SETTINGS = settings(max_examples=200, deadline=None)
HEX32 = re.compile(r"[0-9a-f]{32}")
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
STAMP = st.from_regex(r"20[0-9]{2}(0[1-9]|1[0-2])[0-2][0-9][0-5][0-9][0-5][0-9][0-5][0-9]", fullmatch=True)


def ihuyi_sign(account: str, apikey: str, mobile: str, content: str, stamp: int) -> str:
    adapter = IhuyiAdapter(VendorAccount(vendor="ihuyi", api_id=account, api_secret=apikey))
    return adapter.auth_params(mobile, content, now=stamp)["password"]


SIGNERS = {  # name → (function, strategies for its inputs, the documented md5 input)
    "sms10692": (sms10692_sign, (TEXT, TEXT, STAMP), lambda a, p, t: a + p + t),
    "emay": (emay_sign, (TEXT, TEXT, STAMP), lambda a, s, t: a + s + t),
    "emay-balance": (lambda a, s: emay_sign(a, s), (TEXT, TEXT), lambda a, s: a + s),
    "ihuyi": (
        ihuyi_sign,
        (TEXT, TEXT, TEXT, TEXT, st.integers(10**9, 10**10 - 1)),
        lambda a, k, m, c, t: a + k + m + c + str(t),
    ),
}


def signer_cases():
    return st.sampled_from(sorted(SIGNERS)).flatmap(
        lambda name: st.tuples(st.just(name), st.tuples(*SIGNERS[name][1]), st.data())
    )


@SETTINGS
@given(signer_cases())
def test_a_signature_is_deterministic_lower_case_hex_md5_of_the_documented_string(case):
    name, inputs, _data = case
    sign, _strategies, documented = SIGNERS[name]
    first = sign(*inputs)
    assert first == sign(*inputs)
    assert HEX32.fullmatch(first), first
    assert first == hashlib.md5(documented(*inputs).encode("utf-8")).hexdigest()


@SETTINGS
@given(signer_cases())
def test_changing_any_one_input_changes_the_signature(case):
    name, inputs, data = case
    sign, strategies, _documented = SIGNERS[name]
    index = data.draw(st.integers(0, len(inputs) - 1), label="which input")
    other = data.draw(strategies[index], label="new value")
    assume(other != inputs[index])
    changed = list(inputs)
    changed[index] = other
    assert sign(*changed) != sign(*inputs)

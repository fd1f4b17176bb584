"""What a vendor is, said once on its adapter class and read from there by everything else."""

from pathlib import Path

import pytest

from campaigns import templates_service
from campaigns.models import VoiceTemplate
from campaigns.receipts import reports as receipts
from vendors.adapters import ADAPTERS, PER_CALL, PER_REQUEST, adapter_class
from vendors.adapters.base import PRODUCTS
from vendors.models import VendorAccount

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("code", list(ADAPTERS))
def test_every_adapter_states_its_facts(code):
    cls = adapter_class(code)
    assert cls.code == code and cls.batch_size >= 1
    assert cls.message_ids in (PER_CALL, PER_REQUEST)
    assert cls.products and set(cls.products) <= set(PRODUCTS)
    assert not cls.reviews_templates or cls.supports("add_template")  # reviewing needs filing
    assert isinstance(cls.schedules, bool)


def test_receipts_match_by_the_adapters_message_id_fact():
    shared = {code for code in ADAPTERS if receipts.shares_message_ids(code)}
    assert shared == {code for code in ADAPTERS if adapter_class(code).message_ids == PER_REQUEST}
    assert shared == {"fungo", "sms10692"}  # their ids name a request: reports match on id + number


@pytest.mark.parametrize(("vendor", "reviews"), [("ihuyi", True), ("simulator", False), ("emay", False)])
def test_template_review_follows_the_adapters_fact(vendor, reviews):
    template = VoiceTemplate(account=VendorAccount(vendor=vendor), name="t", content="您好")
    assert templates_service.vendor_reviews_templates(template) is reviews


def test_no_vendor_code_is_listed_outside_the_adapters():
    """A new vendor touches one module: nothing else lists vendor codes to guess a fact."""
    for path in (ROOT / "campaigns").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "SHARED_MESSAGE_IDS" not in text and 'supports("add_template")' not in text, path

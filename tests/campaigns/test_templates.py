"""Voice templates at ihuyi: AddTemplate on submit, the review push decides, DelTemplate before delete."""

from campaigns import templates_service
from campaigns.models import VoiceTemplate
from tests.callbacks.helpers import push
from tests.factories import make_account
from tests.fakes.ihuyi import FakeIhuyi


def ihuyi_template(fake, content="您的验证码是【code】，5分钟内有效。"):
    account = make_account("ihuyi", base_url=fake.url, api_id=fake.account, api_secret=fake.apikey)
    return VoiceTemplate.objects.create(account=account, name="验证码", content=content)


def test_submit_then_review_push_approves(client, db, start_fake):
    fake = start_fake(FakeIhuyi())
    template = ihuyi_template(fake)
    result = templates_service.submit_template(template)
    template.refresh_from_db()
    assert result.ok and template.review_state == "pending" and template.vendor_template_id
    assert fake.templates[template.vendor_template_id]["content"] == template.content
    push(client, template.account, *fake.template_push_body(template.vendor_template_id, approved=True))
    template.refresh_from_db()
    assert template.review_state == "approved"


def test_vendor_refusal_on_submit_is_shown_and_nothing_changes(db, start_fake):
    fake = start_fake(FakeIhuyi())
    fake.sensitive_words.add("赌博")
    template = ihuyi_template(fake, content="赌博【code】")
    result = templates_service.submit_template(template)
    template.refresh_from_db()
    assert not result.ok
    assert "407" in result.message or "敏感" in result.message  # the vendor's own words
    assert template.review_state == "draft" and not template.vendor_template_id


def test_delete_goes_to_the_vendor_first_and_keeps_the_row_if_refused(db, start_fake):
    fake = start_fake(FakeIhuyi())
    template = ihuyi_template(fake)
    templates_service.submit_template(template)
    template.refresh_from_db()
    fake.templates.clear()  # the vendor no longer knows it: DelTemplate answers an error
    result = templates_service.delete_template_at_vendor(template)
    assert not result.ok and VoiceTemplate.objects.filter(pk=template.pk).exists()
    fake.templates[template.vendor_template_id] = {"content": template.content, "status": "approved"}
    result = templates_service.delete_template_at_vendor(template)
    assert result.ok and not VoiceTemplate.objects.filter(pk=template.pk).exists()
    assert template.vendor_template_id not in fake.templates

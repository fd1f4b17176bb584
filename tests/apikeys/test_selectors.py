"""What a key did, read for its admin page: newest first, bounded, with the count of all, and which rows still exist."""

import pytest

from apikeys.scopes import MANAGE_CAMPAIGNS
from apikeys.selectors import recent_actions
from campaigns.models import Campaign, VoiceTemplate
from tests.apikeys.test_api_keys import key_client
from tests.factories import make_account, make_campaign
from voiceops import audit

pytestmark = pytest.mark.django_db


def test_newest_first_bounded_and_counted():
    _client, key, _secret = key_client(MANAGE_CAMPAIGNS)
    _other_client, other, _other_secret = key_client(MANAGE_CAMPAIGNS, name="other")
    campaign = make_campaign()
    for i in range(5):
        audit.record(key, campaign, f"action {i}")
    audit.record(other, campaign, "not this key's")
    actions = recent_actions(key, limit=3)
    assert [entry.message for entry in actions.entries] == ["action 4", "action 3", "action 2"]
    assert actions.total == 5
    assert recent_actions(key).total == 5


def test_rows_that_are_gone_are_named_as_they_were():
    _client, key, _secret = key_client(MANAGE_CAMPAIGNS)
    campaign = make_campaign(name="kept")
    template = VoiceTemplate.objects.create(account=make_account(), name="gone", content="您好")
    audit.record(key, template, "Voice template created")
    audit.record(key, campaign, "Launched")
    template.delete()
    entries = recent_actions(key).entries
    assert [(e.content_type.model_class(), e.object_repr, e.object_exists) for e in entries] == [
        (Campaign, "kept", True),
        (VoiceTemplate, "gone", False),
    ]

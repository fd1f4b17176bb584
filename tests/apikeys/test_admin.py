"""The API key's page in the admin lists what the key did, newest first, linked to the rows that still exist."""

import pytest
from django.contrib.auth.models import Permission, User

from apikeys.models import KeyLogEntry
from apikeys.scopes import MANAGE_CAMPAIGNS, SEND_CALLS
from campaigns.models import VoiceTemplate
from tests.apikeys.test_api_keys import key_client
from tests.factories import make_account, make_campaign
from voiceops import audit

pytestmark = pytest.mark.django_db


def key_page(client, key, **headers):
    response = client.get(f"/admin/apikeys/apikey/{key.pk}/change/", **headers)
    assert response.status_code == 200
    return response


def test_the_page_lists_the_keys_actions_newest_first_linking_rows_that_exist(admin_client):
    client, key, _secret = key_client(MANAGE_CAMPAIGNS, name="crm")
    campaign = make_campaign(name="spring sale", recipients=1)
    gone = VoiceTemplate.objects.create(account=make_account(), name="old notice", content="您好")
    audit.record(key, gone, "Voice template created")
    gone_pk = gone.pk
    gone.delete()
    assert client.post(f"/api/campaigns/{campaign.pk}/launch/", format="json").status_code == 200
    response = key_page(admin_client, key)
    rows = response.context["vo_key_log"]["rows"]
    assert [(row["entry"].object_repr, row["entry"].message, row["url"]) for row in rows] == [
        ("spring sale", "Launched", f"/admin/campaigns/campaign/{campaign.pk}/change/"),
        ("old notice", "Voice template created", None),
    ]
    page = response.content.decode()
    assert "What this key did" in page and "2 in all" in page
    assert f'<a href="/admin/campaigns/campaign/{campaign.pk}/change/">spring sale</a>' in page
    assert "old notice" in page and "(deleted)" in page
    assert f"/admin/campaigns/voicetemplate/{gone_pk}/change/" not in page


def test_the_section_is_in_chinese(admin_client):
    client, key, _secret = key_client(MANAGE_CAMPAIGNS)
    campaign = make_campaign(recipients=1)
    assert client.post(f"/api/campaigns/{campaign.pk}/launch/", format="json").status_code == 200
    page = key_page(admin_client, key, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for chinese in ("此密钥的操作记录", "操作时间", "对象", "共 1 条"):
        assert chinese in page, chinese
    assert "What this key did" not in page and "in all" not in page


def test_a_key_that_did_nothing_says_so(admin_client):
    _client, key, _secret = key_client(MANAGE_CAMPAIGNS)
    page = key_page(admin_client, key).content.decode()
    assert "Nothing yet: the changes this key makes through the API are listed here." in page


def test_the_latest_fifty_are_shown_with_the_count_of_all(admin_client):
    _client, key, _secret = key_client(MANAGE_CAMPAIGNS)
    campaign = make_campaign()
    for i in range(53):
        audit.record(key, campaign, f"action {i}")
    response = key_page(admin_client, key)
    rows = response.context["vo_key_log"]["rows"]
    assert len(rows) == 50 and rows[0]["entry"].message == "action 52" and rows[-1]["entry"].message == "action 3"
    assert "The latest 50 of 53" in response.content.decode()


def test_a_viewer_who_may_not_see_the_row_gets_its_name_without_a_link(client):
    _key_client, key, _secret = key_client(MANAGE_CAMPAIGNS)
    campaign = make_campaign(name="spring sale")
    audit.record(key, campaign, "Launched")
    viewer = User.objects.create_user("auditor", password="pw-auditor-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_apikey", content_type__app_label="apikeys"))
    client.force_login(viewer)
    response = key_page(client, key)
    assert [row["url"] for row in response.context["vo_key_log"]["rows"]] == [None]
    page = response.content.decode()
    assert "spring sale" in page and f"/admin/campaigns/campaign/{campaign.pk}/change/" not in page
    assert KeyLogEntry.objects.count() == 1


def test_the_key_list_shows_one_scope_a_line(admin_client):
    key_client(SEND_CALLS, MANAGE_CAMPAIGNS, name="crm")
    html = admin_client.get("/admin/apikeys/apikey/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    # Chinese labels have commas of their own ("管理活动、号码名单和模板"): a line each, no joiner.
    assert "发起单次呼叫（并查询）<br>管理活动、号码名单和模板" in html


def test_the_page_links_the_single_calls_the_key_placed(admin_client):
    from campaigns.models import CallRoute
    from tests.calls.helpers import integrator

    CallRoute.objects.create(product="verify", account=make_account())
    client, key, _secret = key_client(SEND_CALLS, name="order service")
    other = integrator()
    for api, mobile in ((client, "13800138000"), (other, "13800138001")):
        body = {"mobile": mobile, "product": "verify", "code": "1234"}
        assert api.post("/api/calls/", body, format="json").status_code == 201
    page = key_page(admin_client, key).content.decode()
    link = page.split('id="vo-key-calls" href="')[1].split('"')[0].replace("&amp;", "&")
    listing = admin_client.get(link)
    assert listing.status_code == 200
    assert [call.mobile for call in listing.context["cl"].result_list] == ["+8613800138000"]  # not the other key's

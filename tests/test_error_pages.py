"""403, 404 and 500 pages: styled, in the reader's language, with a way home; /favicon.ico served."""

import pytest
from django.contrib.auth.models import Group, User
from django.test import RequestFactory
from django.utils import translation
from django.views.defaults import server_error

from tests.test_i18n_crawl import english_words

pytestmark = pytest.mark.django_db


def assert_chinese_error_page(html: str, code: str):
    assert f'class="code">{code}<' in html
    assert 'href="/admin/"' in html and "返回首页" in html
    assert "<style>" in html  # styled, not the browser's bare default
    offending, _links = english_words(html, data_words=set())
    assert not offending, offending


def test_404_is_chinese_and_links_home(client):
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 404
    assert_chinese_error_page(response.content.decode(), "404")
    assert "页面不存在" in response.content.decode()


def test_404_in_english_on_request(client):
    html = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Page not found" in html and "Back to the home page" in html


def test_403_for_a_page_outside_the_role(client):
    user = User.objects.create_user("fin", password="pw-1234-long", is_staff=True)
    user.groups.add(Group.objects.get(name="Finance"))
    client.force_login(user)
    response = client.get("/admin/campaigns/campaign/add/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 403
    assert_chinese_error_page(response.content.decode(), "403")


def test_403_for_a_form_without_its_csrf_token(client):
    client.handler.enforce_csrf_checks = True
    response = client.post("/admin/login/", {"username": "x", "password": "y"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 403
    assert_chinese_error_page(response.content.decode(), "403")


def test_500_is_chinese_and_links_home():
    request = RequestFactory().get("/")
    with translation.override("zh-hans"):
        response = server_error(request)
    assert response.status_code == 500
    assert_chinese_error_page(response.content.decode(), "500")


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO header

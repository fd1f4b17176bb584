"""The admin's recipient editor refuses variables the campaign's template cannot be filled with,
as the file import and the API do, and says how to write them."""

import json

import pytest
from django.utils import translation

from campaigns.models import Recipient
from tests.admin_forms import change_form_data
from tests.factories import make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def recipient():
    campaign = make_campaign(recipients=1)  # 【name】您好，订单【order】已发货。
    return Recipient.objects.get(campaign=campaign)


def save(client, recipient, variables: str, **headers):
    url = f"/admin/campaigns/recipient/{recipient.pk}/change/"
    return client.post(url, change_form_data(client, url, variables=variables), **headers)


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ('{"a": 1}', "JSON list of texts"),
        ('["only one"]', "needs 2 variable(s): name、order"),
        ('["王", "  "]', "needs 2 variable(s): name、order"),
        ('["王", ["SO1"]]', "JSON list of texts"),
        ("[王, SO1]", "not valid JSON"),
    ],
)
def test_variables_that_do_not_fill_the_template_are_refused_and_nothing_changes(admin_client, recipient, typed, says):
    response = save(admin_client, recipient, typed)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert says in " ".join(errors["variables"]), errors
    recipient.refresh_from_db()
    assert recipient.variables == ["王", "SO0"]


def test_the_refusal_is_in_chinese_for_a_chinese_operator(admin_client, recipient):
    with translation.override("zh-hans"):
        response = save(admin_client, recipient, '["only one"]', HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "需要 2 个变量：name、order" in " ".join(response.context["adminform"].form.errors["variables"])


def test_a_list_that_fills_the_template_is_saved_as_the_import_would_store_it(admin_client, recipient):
    response = save(admin_client, recipient, json.dumps([" 李先生 ", 1024], ensure_ascii=False))
    assert response.status_code == 302, response.context["adminform"].form.errors
    recipient.refresh_from_db()
    assert recipient.variables == ["李先生", "1024"]


def test_the_editor_names_the_variables_it_expects(admin_client, recipient):
    page = admin_client.get(f"/admin/campaigns/recipient/{recipient.pk}/change/").content.decode()
    assert "name、order" in page

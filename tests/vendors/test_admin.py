"""The account page shows its times as every admin page does: local, in the reader's format."""

import pytest
from django.utils import formats, timezone, translation

from tests.factories import make_account
from vendors import services
from vendors.models import VendorAccount

pytestmark = pytest.mark.django_db


def test_an_open_circuit_shows_until_when_in_local_time(admin_client):
    account = make_account()
    for _ in range(services.CIRCUIT_FAILURES):
        services.record_failure(account, "HTTP 503")
    until = VendorAccount.objects.get(pk=account.pk).circuit_open_until
    page = admin_client.get(
        f"/admin/vendors/vendoraccount/{account.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    with translation.override("zh-hans"):
        assert formats.date_format(timezone.localtime(until), "DATETIME_FORMAT") in page
    assert "+00:00" not in page

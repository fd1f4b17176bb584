"""Helpers shared by the callback tests: post what a vendor pushes, dispatch real calls to a fake."""

from urllib.parse import urlencode

from campaigns import services, tasks
from tests.factories import make_campaign


def push(client, account, body, headers=None, query=None, token=None):
    headers = dict(headers or {})
    content_type = headers.pop("Content-Type", headers.pop("content-type", "application/x-www-form-urlencoded"))
    url = f"/api/callbacks/{account.vendor}/{token or account.callback_token}/"
    if query:
        url += "?" + urlencode(query)
    return client.generic("POST", url, data=body, content_type=content_type, headers=headers)


def dispatched(account, recipients=3, content="您的订单【order】已发货【name】", **fields):
    campaign = make_campaign(recipients=recipients, account=account, content=content, **fields)
    services.launch(campaign)
    tasks.tick()
    return campaign

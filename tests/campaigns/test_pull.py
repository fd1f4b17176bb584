"""Pull vendors: reports and replies fetched on the beat, stored raw first, each applied once."""

from campaigns import services, tasks
from campaigns.models import CallbackEvent, CallRecord, InboundReply
from tests.factories import make_account, make_campaign
from tests.fakes.emay import FakeEmay
from tests.fakes.sms10692 import FakeSms10692
from tests.fakes.vms57 import FakeVms57


def launch_and_send(account, recipients, content, **fields):
    campaign = make_campaign(recipients=recipients, account=account, content=content, max_attempts=1, **fields)
    services.launch(campaign)
    tasks.tick()
    return campaign


def test_sms10692_reports_match_each_number_of_a_shared_task_id(db, start_fake):
    fake = start_fake(FakeSms10692())
    account = make_account(
        "sms10692",
        base_url=fake.url,
        api_id=fake.account,
        api_secret=fake.password,
        user_id=fake.userid,
        pull_reports=True,
    )
    fake.report_for["13800130001"] = ("20", "UNDELIV")  # the second recipient's number
    launch_and_send(account, 4, "您的验证码是1234")
    calls = list(CallRecord.objects.order_by("id"))
    assert len({c.vendor_message_id for c in calls}) == 1  # one task id for the whole batch
    fake.queue_reply(calls[0].mobile[3:], "收到，谢谢")
    tasks.pull_all()
    states = dict(CallRecord.objects.values_list("mobile", "state"))
    assert states[calls[1].mobile] == "failed"
    assert [states[c.mobile] for c in (calls[0], calls[2], calls[3])] == ["answered"] * 3
    reply = InboundReply.objects.get()
    assert (reply.content, reply.call_id) == ("收到，谢谢", calls[0].id)
    events = CallbackEvent.objects.filter(source="pull").count()
    tasks.pull_all()  # each report is handed out once: nothing new, nothing stored
    assert CallbackEvent.objects.filter(source="pull").count() == events


def test_vms57_report_pull_completes_the_campaign(db, start_fake):
    fake = start_fake(FakeVms57())
    account = make_account(
        "vms57", base_url=fake.url, api_id="vmsuser", api_secret="vmspass", user_id="1001", pull_reports=True
    )
    campaign = launch_and_send(account, 3, "【code】", product="verify", variables=lambda i: [f"{1000 + i}"])
    assert CallRecord.objects.filter(state="submitted").count() == 3
    tasks.pull_all()
    tasks.tick()
    campaign.refresh_from_db()
    assert CallRecord.objects.filter(state="answered").count() == 3
    assert campaign.state == "completed"


def test_emay_get_report_pull(db, start_fake):
    fake = start_fake(FakeEmay())
    account = make_account("emay", base_url=fake.url, api_id=fake.app_id, api_secret=fake.secret_key, pull_reports=True)
    launch_and_send(account, 5, "您的快递已到。")
    tasks.pull_all()
    assert CallRecord.objects.filter(state__in=["answered", "failed"]).count() == 5
    assert CallbackEvent.objects.get(source="pull").reports_count == 5

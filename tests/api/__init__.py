"""REST API tests. Helpers shared by the modules (plain functions, real rows, no mocks)."""

from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from campaigns import tasks
from campaigns.models import CallRecord, Campaign


def make_user(group: str | None, username: str | None = None) -> User:
    user = User.objects.create_user(username or f"{(group or 'nobody').lower()}-{User.objects.count() + 1}", password="pw-1234-long")
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def client_for(group: str | None) -> APIClient:
    """An API client logged in (session) as a new member of ``group`` (None: a user in no group)."""
    client = APIClient()
    client.force_login(make_user(group))
    return client


def run_until_done(campaign: Campaign, rounds: int = 10) -> Campaign:
    """Drive a launched campaign on the simulator: dispatch, pull receipts, retries due at once."""
    for _ in range(rounds):
        tasks.tick()
        CallRecord.objects.filter(campaign=campaign, state="queued").update(not_before=None)
        tasks.pull_all()
        campaign.refresh_from_db()
        if campaign.state == Campaign.State.COMPLETED:
            break
    return campaign

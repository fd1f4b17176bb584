"""``manage.py demo``: everything a new user needs to see VoiceOps work, with no vendor contract.

Idempotent: a second run finds what the first made and only gives the admin a new password.
"""

import random
import secrets
from datetime import time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.translation import gettext as _

from campaigns import services
from campaigns.models import SINGLE_CALL_PRODUCTS, CallRoute, Campaign, VoiceTemplate
from vendors.models import VendorAccount

DEMO_ACCOUNT = "演示模拟供应商 Demo simulator"
DEMO_TEMPLATE = "演示通知 Demo notice"
DEMO_CAMPAIGN = "演示活动 Demo campaign"
MOBILE_PREFIXES = ("138", "139", "150", "151", "186", "187", "135", "158", "177", "199")
SURNAMES = "王李张刘陈杨黄赵吴周"


class Command(BaseCommand):
    help = _("Create a simulator vendor account, an approved template, a demo campaign and an admin login.")

    def add_arguments(self, parser):
        parser.add_argument("--recipients", type=int, default=300)
        parser.add_argument("--username", default="admin")

    @transaction.atomic
    def handle(self, *args, recipients, username, **options):
        account, _created = VendorAccount.objects.get_or_create(
            name=DEMO_ACCOUNT,
            defaults={
                "vendor": "simulator",
                "options": {"answer_rate": 0.62, "seed": 7, "report_delay": [2, 15]},
                "rate_limit_per_second": 50,
                "low_balance_threshold": 100,
                "price_per_unit": "0.05",
                "pull_reports": True,
            },
        )
        # Single calls that name no account go through the simulator, so a first POST /api/calls/ works.
        for product in SINGLE_CALL_PRODUCTS:
            CallRoute.objects.get_or_create(product=product, defaults={"account": account})
        template, _created = VoiceTemplate.objects.get_or_create(
            name=DEMO_TEMPLATE,
            account=account,
            defaults={
                "content": "【name】您好，您的订单【order】已发货，请注意查收。",
                "review_state": VoiceTemplate.Review.APPROVED,
            },
        )
        campaign, created = Campaign.objects.get_or_create(
            name=DEMO_CAMPAIGN,
            # The simulator calls nobody, so the demo may "call" at any hour (real campaigns keep 08:00–21:00).
            defaults={
                "account": account,
                "template": template,
                "product": "notify",
                "max_attempts": 2,
                "retry_delay_minutes": 1,
                "quiet_hours_start": time(0),
                "quiet_hours_end": time(0),
            },
        )
        if created:
            rng = random.Random(42)
            rows = [
                (
                    f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}",
                    [rng.choice(SURNAMES) + "先生", f"SO{rng.randrange(10**6):06d}"],
                )
                for _ in range(recipients)
            ]
            services.add_recipients(campaign, [{"mobile": m, "variables": v} for m, v in rows])
        user, _created = get_user_model().objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True}
        )
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        user.is_staff = user.is_superuser = True
        user.save()
        user.groups.add(*Group.objects.filter(name="Operators"))
        self.stdout.write(
            self.style.SUCCESS(
                _("Demo ready: campaign “%(name)s” with %(count)d recipients.")
                % {"name": campaign.name, "count": campaign.recipients.count()}
            )
        )
        self.stdout.write(_("Log in as %(user)s with password %(password)s") % {"user": username, "password": password})

"""Unlock admin logins refused for too many failures: by address, by username, or all."""

from axes.models import AccessAttempt
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from voiceops import login_throttle


class Command(BaseCommand):
    help = "Unlock admin logins: forget the failed logins of an address or a username (or all)."

    def add_arguments(self, parser):
        parser.add_argument("--address", help="client address whose logins are refused")
        parser.add_argument("--username", help="username whose logins are slowed down")
        parser.add_argument("--all", action="store_true", help="every address and username")

    def handle(self, *args, address=None, username=None, all=False, **options):
        if not (address or username or all):
            raise CommandError("Name --address, --username or --all.")
        attempts = AccessAttempt.objects.all()
        if not all:
            chosen = Q(pk__in=[])
            if address:
                chosen |= Q(ip_address=address)
            if username:
                chosen |= Q(username=username)
            attempts = attempts.filter(chosen)
        usernames = {name for name in attempts.values_list("username", flat=True) if name}
        if username:
            usernames.add(username)
        count, _deleted = attempts.delete()
        for name in usernames:
            login_throttle.clear(name)
        self.stdout.write(
            f"Removed {count} failed-login record(s); cleared the slow-down of {len(usernames)} username(s)."
        )

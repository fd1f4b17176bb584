"""``manage.py rotate_secrets``: re-encrypt every stored vendor secret with the current key.

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS (keep the old one after it), deploy,
run this command, then remove the old key.
"""

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from vendors.models import VendorAccount
from voiceops import crypto


class Command(BaseCommand):
    help = "Re-encrypt vendor secrets with the first key of FIELD_ENCRYPTION_KEYS."

    @transaction.atomic
    def handle(self, *args, **options):
        table = VendorAccount._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id, api_secret FROM {table} WHERE api_secret <> ''")
            rows = cursor.fetchall()
        rotated = 0
        for pk, stored in rows:
            if crypto.needs_rotation(stored):
                # saving the plain value makes the field encrypt it again, with the current key
                VendorAccount.objects.filter(pk=pk).update(api_secret=crypto.decrypt(stored))
                rotated += 1
        self.stdout.write(f"Re-encrypted {rotated} of {len(rows)} stored secret(s) with the current key.")

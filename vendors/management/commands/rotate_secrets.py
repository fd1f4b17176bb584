"""``manage.py rotate_secrets``: re-encrypt every stored secret with the current key.

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS (keep the old one after it), deploy,
run this command, then remove the old key. Every ``EncryptedTextField`` of every model is
rotated (vendor account secrets, webhook signing secrets, any added later): a column left
under the old key could no longer be read once that key is gone.
"""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from vendors.fields import EncryptedTextField
from voiceops import crypto


def encrypted_fields():
    """(model, field) for every concrete encrypted column, found from the models themselves."""
    return [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field with the first key of FIELD_ENCRYPTION_KEYS."

    @transaction.atomic
    def handle(self, *args, **options):
        rotated = stored_total = 0
        for model, field in encrypted_fields():
            rows = self.stored_values(model, field)
            stored_total += len(rows)
            for pk, stored in rows:
                if crypto.needs_rotation(stored):
                    # Only this column, by a queryset UPDATE: a save() would write other fields back, and
                    # a RuntimeStateMixin model leaves its rotated secrets out of a full save.
                    model._default_manager.filter(pk=pk).update(**{field.name: crypto.decrypt(stored)})
                    rotated += 1
        self.stdout.write(f"Re-encrypted {rotated} of {stored_total} stored secret(s) with the current key.")

    def stored_values(self, model, field):
        """The ciphertexts as stored, rows locked: a secret rotated meanwhile (a webhook endpoint's) must
        not be overwritten by the value read here."""
        quote = connection.ops.quote_name
        pk_column = quote(model._meta.pk.column)
        column = quote(field.column)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {pk_column}, {column} FROM {quote(model._meta.db_table)} "
                f"WHERE {column} IS NOT NULL AND {column} <> '' FOR UPDATE"
            )
            return cursor.fetchall()

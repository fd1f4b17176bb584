"""Model field that keeps a secret encrypted in the database and plain only in memory."""

from django.db import models

from voiceops import crypto


class EncryptedTextField(models.TextField):
    """Encrypts on save (AES-GCM, voiceops.crypto) and decrypts on load."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return crypto.decrypt(value)

    def to_python(self, value):
        return value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(value)

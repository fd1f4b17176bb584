"""AES-GCM encryption of secrets at rest (vendor credentials).

Stored form: ``v1:<key id>:<base64(nonce | tag | ciphertext)>``. The key id (8 hex digits of the
key's SHA-256) names which of ``FIELD_ENCRYPTION_KEYS`` encrypted a value, so keys can be rotated:
the first key encrypts, every listed key decrypts.
"""

import base64
import hashlib
import secrets

from Crypto.Cipher import AES
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "v1"


class DecryptionError(ValueError):
    """A stored secret could not be decrypted with any configured key."""


def _decode_key(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except ValueError as exc:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS holds a value that is not base64.") from exc
    if len(key) != 32:
        raise ImproperlyConfigured("Each FIELD_ENCRYPTION_KEYS entry must be 32 bytes (base64).")
    return key


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def _keys() -> list[bytes]:
    keys = [_decode_key(k) for k in settings.FIELD_ENCRYPTION_KEYS if k.strip()]
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: set at least one key.")
    return keys


def generate_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def encrypt(plaintext: str) -> str:
    key = _keys()[0]
    nonce = secrets.token_bytes(12)
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce)
    ciphertext, tag = cipher.encrypt_and_digest(plaintext.encode("utf-8"))
    blob = base64.b64encode(nonce + tag + ciphertext).decode()
    return f"{PREFIX}:{key_id(key)}:{blob}"


def is_encrypted(value: str) -> bool:
    return value.startswith(PREFIX + ":") and value.count(":") >= 2


def decrypt(stored: str) -> str:
    try:
        _prefix, wanted_id, blob = stored.split(":", 2)
        raw = base64.b64decode(blob)
    except ValueError as exc:
        raise DecryptionError("Stored secret is not in the encrypted format.") from exc
    nonce, tag, ciphertext = raw[:12], raw[12:28], raw[28:]
    for key in _keys():
        if key_id(key) != wanted_id:
            continue
        cipher = AES.new(key, AES.MODE_GCM, nonce=nonce)
        try:
            return cipher.decrypt_and_verify(ciphertext, tag).decode("utf-8")
        except ValueError as exc:
            raise DecryptionError("Stored secret failed its integrity check.") from exc
    raise DecryptionError(f"No configured key has id {wanted_id}: add it to FIELD_ENCRYPTION_KEYS.")


def needs_rotation(stored: str) -> bool:
    """True when a value was encrypted with a key other than the current (first) one."""
    return is_encrypted(stored) and stored.split(":", 2)[1] != key_id(_keys()[0])


def mask(secret: str) -> str:
    """What may be shown of a secret: never more than its last two characters."""
    if not secret:
        return ""
    return "••••••" + (secret[-2:] if len(secret) >= 8 else "")

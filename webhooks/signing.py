"""Standard Webhooks signatures: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``.

The secret is ``whsec_`` + base64 of 32 random bytes; the HMAC key is the decoded bytes, as the
specification's libraries (``standardwebhooks`` in every language) expect. The header may carry
several signatures separated by spaces, and a receiver accepts the message if any one verifies:
that is how a rotated secret keeps working for its grace period.
"""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature(secret: str, message_id: str, timestamp: int, body: str) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    mac = hmac.new(key, f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signature_header(signing_secrets: Sequence[str], message_id: str, timestamp: int, body: str) -> str:
    """``webhook-signature``: one signature per secret, in the order given (the current secret first)."""
    if isinstance(signing_secrets, str):
        raise TypeError("signature_header takes a list of secrets, not one secret")
    return " ".join(signature(secret, message_id, timestamp, body) for secret in signing_secrets)

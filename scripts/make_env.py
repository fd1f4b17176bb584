"""Print a .env for the embedded default, with fresh random secrets (used by `make run`)."""

import base64
import secrets

print("DEBUG=True")
print(f"SECRET_KEY={secrets.token_urlsafe(50)}")
print(f"FIELD_ENCRYPTION_KEYS={base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip('=')}")
print("LANGUAGE_CODE=zh-hans")

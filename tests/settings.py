"""Test settings: the real settings module, with test-only defaults set before it loads."""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "dGVzdC1rZXktMzItYnl0ZXMtbG9uZy0xMjM0NTY3ODk")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/voiceops")
os.environ.setdefault("DEBUG", "False")
os.environ.setdefault("SECURE_SSL_REDIRECT", "False")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "True")
os.environ.setdefault("LANGUAGE_CODE", "en")
os.environ.setdefault("VENDOR_READ_TIMEOUT", "1")
os.environ.setdefault("VENDOR_CONNECT_TIMEOUT", "1")

from voiceops.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405

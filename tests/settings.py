"""Test settings: the real settings module, with test-only defaults set before it loads."""

import os

TEST_ENV = {
    "SECRET_KEY": "test-secret-key-not-for-production-0123456789abcdef",
    "FIELD_ENCRYPTION_KEYS": "dGVzdC1rZXktMzItYnl0ZXMtbG9uZy0xMjM0NTY3ODk",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/voiceops",
    "DEBUG": "False",
    "SECURE_SSL_REDIRECT": "False",
    "CELERY_TASK_ALWAYS_EAGER": "True",
    "LANGUAGE_CODE": "en",
    "VENDOR_READ_TIMEOUT": "1",
    "VENDOR_CONNECT_TIMEOUT": "1",
    "VOICEOPS_ENV_FILE": "/nonexistent/.env",
}
# The shared cache is real Redis (login slow-down, callback rate limit, import progress), one key
# prefix per run; the variable is inherited by the Celery workers the tests start.
TEST_ENV["VOICEOPS_TEST_CACHE_PREFIX"] = f"test{os.getpid()}"
for _name, _value in TEST_ENV.items():
    os.environ.setdefault(_name, _value)

from voiceops.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
# One test database per run, so several runs (developers, CI, benchmarks) never drop each other's.
DATABASES["default"]["TEST"] = {"NAME": f"test_voiceops_{os.getpid()}"}  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405  (whitenoise warns when it is missing)
CACHES = {  # noqa: F405
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("TEST_CACHE_REDIS_URL", "redis://127.0.0.1:6379/15"),
        "KEY_PREFIX": os.environ["VOICEOPS_TEST_CACHE_PREFIX"],
    }
}

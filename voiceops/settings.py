"""VoiceOps settings: everything comes from the environment (django-environ).

The defaults are the embedded mode: SQLite and kombu's filesystem broker under ``var/``, so a
fresh clone runs with nothing else installed. Production sets ``DEBUG=False`` and the URLs of
PostgreSQL and Redis; the secure defaults below then make ``manage.py check --deploy`` clean.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.templatetags.static import static
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("VOICEOPS_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
env.read_env(env.str("VOICEOPS_ENV_FILE", default=str(BASE_DIR / ".env")), overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY in the environment or .env (`make run` writes one).")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The address vendors reach this server at (scheme + host [+ port]); callback URLs are built from it.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")

# Vendor credentials are encrypted with AES-GCM. The first key encrypts; every key decrypts,
# so keys can be rotated (see ``manage.py rotate_secrets``). Each key is 32 bytes, base64.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS")

INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "drf_standardized_errors",
    "voiceops",
    "vendors",
    "campaigns",
    "reporting",
    "idempotency",
    "apikeys",
    "webhooks",
]

MIDDLEWARE = [
    "voiceops.client_address.TrustedProxyMiddleware",  # forwarding headers only from TRUSTED_PROXIES
    "django.middleware.security.SecurityMiddleware",
    "voiceops.middleware.RequestSizeLimitMiddleware",  # too large by Content-Length: refused unread
    "voiceops.middleware.VendorCallbackMiddleware",  # vendor pushes skip the rest of the stack
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "voiceops.middleware.ApiAwareCommonMiddleware",  # no redirects or HTML pages under /api/
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

# The reverse proxies in front of the application server (addresses or networks). Only a request
# from one of them may say, in X-Forwarded-For / X-Forwarded-Proto, who the client was and whether
# it came over HTTPS (voiceops/client_address.py); from anyone else those headers are dropped.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

# Login throttling: an ADDRESS with too many failures waits (django-axes, by the trusted client
# address); a USERNAME with many failures from anywhere is only slowed down, never locked, so
# nobody can keep someone else out (voiceops/login_throttle.py). Operators unlock addresses in the
# admin (Access attempts), anyone with a shell by `manage.py unlock_login`.
# unfold's login form carries no "next": a login from /admin/login/ itself lands on the admin home.
LOGIN_REDIRECT_URL = "admin:index"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "voiceops.login_throttle.UsernameSlowdownBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_CLIENT_IP_CALLABLE = "voiceops.client_address.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_LOCKOUT_CALLABLE = "voiceops.login_throttle.lockout_response"
AXES_ENABLE_ADMIN = False  # voiceops/admin.py shows locked addresses in the admin's own style
LOGIN_SLOWDOWN_AFTER = env.int("LOGIN_SLOWDOWN_AFTER", default=5)
LOGIN_SLOWDOWN_MAX_SECONDS = env.float("LOGIN_SLOWDOWN_MAX_SECONDS", default=4.0)

ROOT_URLCONF = "voiceops.urls"
WSGI_APPLICATION = "voiceops.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'voiceops.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL and a busy timeout let the embedded web server and worker share the file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"}
    )
# The single-receipt statement is prepared once per connection (PostgreSQL). Turn off behind a
# pooler in transaction mode that cannot keep prepared statements (PgBouncer before 1.21).
RECEIPT_PREPARED_STATEMENTS = env.bool("RECEIPT_PREPARED_STATEMENTS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Recipient files are streamed to disk, never held whole in memory; larger files are refused.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
RECIPIENT_FILE_MAX_BYTES = env.int("RECIPIENT_FILE_MAX_BYTES", default=100 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=10 * 1024 * 1024)

# Security: secure by default outside DEBUG, so `check --deploy` is clean in production.
if TRUSTED_PROXIES:  # a client talking to gunicorn directly cannot claim HTTPS (its header is dropped)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"  # the one X-Frame-Options header (XFrameOptionsMiddleware); CSP says the same
SESSION_COOKIE_HTTPONLY = True
# A working day by default; the session ends with it rather than lasting Django's two weeks.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=9 * 3600)
# Content Security Policy (Django's own): scripts, styles, fonts and images from this site only.
# unfold renders its sidebar and widgets with Alpine.js, which evaluates expressions: 'unsafe-eval'
# is needed for scripts; inline style attributes are common in the admin's templates.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.UNSAFE_EVAL, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

EMAIL_CONFIG = env.email("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="voiceops@localhost")

# Celery: the embedded default is kombu's filesystem transport under var/.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = env.json("CELERY_BROKER_TRANSPORT_OPTIONS", default={})
if CELERY_BROKER_URL.startswith("filesystem"):
    _queue_dir = VAR_DIR / "broker"
    (_queue_dir / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),  # else ./control appears in the working tree
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "campaigns.dispatch.*": {"queue": "dispatch"},
    "campaigns.reports.*": {"queue": "reports"},
    "vendors.*": {"queue": "reports"},
    "campaigns.imports.*": {"queue": "imports"},
    "webhooks.*": {"queue": "webhooks"},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Shared by web and workers (import progress): Redis in production, files on the embedded default.
CACHES = {"default": env.cache("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}")}

# The API: API keys for systems (scoped, hashed), the session for people using the browsable API;
# JSON bodies only (the recipients upload takes multipart as well); one error body everywhere.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apikeys.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every view keeps RefuseUnknownQuery when it names its own permissions (tests/api/test_filters.py).
    "DEFAULT_PERMISSION_CLASSES": [
        "apikeys.permissions.ScopedModelPermissions",
        "voiceops.api.filters.RefuseUnknownQuery",
    ],
    "DEFAULT_PARSER_CLASSES": ["voiceops.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "voiceops.api.schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["voiceops.api.filters.StrictFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "voiceops.api.pagination.StrictPageNumberPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
}
DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "voiceops.api.errors.ApiExceptionHandler",
    # JSON in DEBUG too: the traceback goes to the log, the client gets the error body.
    "ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": True,
}
# /api/schema/ and /api/docs/ need a login outside DEBUG unless the interface description is public.
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=False)
SPECTACULAR_SETTINGS = {
    "TITLE": "VoiceOps API",
    # What a developer with only /api/docs/ needs beyond the operations: how to authenticate, read an
    # error, retry safely and receive and verify webhooks (their payloads are no operation of ours).
    "DESCRIPTION": "Voice calls through Chinese voice vendors: single calls (verification codes, notifications), "
    "campaigns, templates, vendor accounts and webhooks.\n\n"
    "**Authentication.** Send `Authorization: Api-Key <key>`; an operator creates a key for your system in the "
    "admin (API keys), with the scopes it needs.\n\n"
    '**Errors.** Every refusal has one body, `{"type", "errors": [{"code", "detail", "attr"}]}`: '
    "`code` is stable, `detail` says what to correct, `attr` names the field or query parameter. Unknown "
    "body fields and query parameters are refused, not ignored.\n\n"
    "**Retries.** Send an `Idempotency-Key` header with every POST that creates something: the same key and "
    "body answer the first response again and create nothing (a call is never placed twice); the same key "
    "with another body is refused (422). Keys are kept 24 hours.\n\n"
    '**Webhooks.** Events are posted to your endpoints (`/api/webhooks/`) as JSON `{"type", "timestamp", '
    '"data"}`, signed per the Standard Webhooks specification: headers `webhook-id` (the event id, the same '
    "on every retry: de-duplicate by it), `webhook-timestamp` and `webhook-signature`. Verify them with a "
    "Standard Webhooks library (Python: `standardwebhooks`) and the endpoint's `whsec_…` secret. After the "
    "secret is rotated, `webhook-signature` carries two signatures, the new secret's and the old one's, until "
    "the old one expires (`previous_secret_expires_at`): a receiver still holding the old secret verifies "
    "every delivery meanwhile. Types: "
    "`call.answered`, `call.failed`, `call.expired` (for a single call, `data` is the call as "
    "`GET /api/calls/{id}/` shows it, `data.id` its id and `data.out_id` your reference, with `data.attempt` "
    "the attempt the event is about and `campaign` null; for a campaign's call, `data` is the attempt as the "
    "campaign's calls list shows it, with `campaign`), `campaign.completed`, `import.finished`, `balance.low`. "
    "Answer with a 2xx status within 5 seconds; anything else is tried again, with growing waits, for about 32 hours.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Request bodies get their own components (read-only fields left out, nothing required that
    # the server fills), so a generated client can build a request from the schema alone.
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_GENERATE_CHOICE_DESCRIPTION": True,
    # Fields named "state" have different choices per model: name the enums explicitly, in English.
    "ENUM_NAME_OVERRIDES": {
        "CampaignStateEnum": "campaigns.models.Campaign.State",
        "CallStateEnum": "campaigns.models.CallRecord.State",
        "ImportStateEnum": "campaigns.models.RecipientImport.State",
        "ReviewStateEnum": "campaigns.models.VoiceTemplate.Review",
        "OutcomeEnum": "campaigns.models.OUTCOME_CHOICES",  # also the items of retry_outcomes
        "ProductEnum": "campaigns.models.PRODUCT_CHOICES",  # also the items of an account's products
        "SingleCallProductEnum": "campaigns.models.SINGLE_CALL_PRODUCT_CHOICES",
        "ErrorTypeEnum": ["validation_error", "client_error", "server_error"],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "voiceops.api.schema.add_links",
        "voiceops.api.schema.multi_body_not_required",
    ],
}

UNFOLD = {
    "SITE_TITLE": _("VoiceOps"),
    "SITE_HEADER": _("VoiceOps"),
    "SITE_SYMBOL": "call",
    "SITE_FAVICONS": [{"rel": "icon", "type": "image/png", "href": lambda request: static("voiceops/favicon.png")}],
    "SHOW_LANGUAGES": True,
    "DASHBOARD_CALLBACK": "reporting.views.admin_dashboard",
    "GLOBAL_CALLBACK": "reporting.views.admin_globals",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"mask_callback_tokens": {"()": "voiceops.log_masking.MaskCallbackTokens"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["mask_callback_tokens"]}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # urllib3 logs request lines at DEBUG; some vendors (fungo) put credentials in the URL.
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}

# Vendor HTTP: connect and read timeouts for every request (seconds).
VENDOR_CONNECT_TIMEOUT = env.float("VENDOR_CONNECT_TIMEOUT", default=3.05)
VENDOR_READ_TIMEOUT = env.float("VENDOR_READ_TIMEOUT", default=15.0)

# Single calls over the API (DESIGN.md, "Transactional calls").
# Per-number limits across every vendor: "seconds:calls" windows, failed calls counted.


def _windows(items: list[str]) -> list[tuple[int, int]]:
    windows = []
    for item in items:
        seconds, _, calls = item.partition(":")
        if not (seconds.strip().isdigit() and calls.strip().isdigit() and int(seconds) > 0 and int(calls) > 0):
            raise ImproperlyConfigured(
                f"SINGLE_CALL_NUMBER_LIMITS: {item!r} is not seconds:calls (e.g. 60:1,3600:5,86400:20)"
            )
        windows.append((int(seconds), int(calls)))
    return windows


SINGLE_CALL_NUMBER_LIMITS = _windows(env.list("SINGLE_CALL_NUMBER_LIMITS", default=["60:1", "3600:5", "86400:20"]))
SINGLE_CALL_DAILY_CAP = env.int("SINGLE_CALL_DAILY_CAP", default=10000)  # per API key (or person), per local day
SINGLE_CALL_REPORT_WINDOW_MINUTES = env.int("SINGLE_CALL_REPORT_WINDOW_MINUTES", default=60)
IDEMPOTENCY_KEY_HOURS = env.int("IDEMPOTENCY_KEY_HOURS", default=24)
IDEMPOTENCY_WAIT_SECONDS = env.float("IDEMPOTENCY_WAIT_SECONDS", default=10.0)

# Webhooks to the customer's systems (webhooks/). Outside DEBUG only HTTPS to public addresses;
# WEBHOOK_ALLOW_LOOPBACK lets a receiver on 127.0.0.1 (plain HTTP too) take them in DEBUG and tests.
WEBHOOK_ALLOW_LOOPBACK = env.bool("WEBHOOK_ALLOW_LOOPBACK", default=DEBUG)
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=3.05)
WEBHOOK_READ_TIMEOUT = env.float("WEBHOOK_READ_TIMEOUT", default=5.0)
# Seconds between tries (the last gap repeats no more): about 32 h in all, then the delivery fails.
WEBHOOK_RETRY_SCHEDULE = env.list(
    "WEBHOOK_RETRY_SCHEDULE", cast=int, default=[5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800, 28800]
)
WEBHOOK_DISABLE_AFTER_DAYS = env.float("WEBHOOK_DISABLE_AFTER_DAYS", default=5)
WEBHOOK_RETENTION_DAYS = env.int("WEBHOOK_RETENTION_DAYS", default=30)
# Hours a rotated-away signing secret keeps signing deliveries beside the new one (0: it stops at once).
WEBHOOK_SECRET_GRACE_HOURS = env.float("WEBHOOK_SECRET_GRACE_HOURS", default=24.0)
if not 0 <= WEBHOOK_SECRET_GRACE_HOURS <= 24 * 365:
    raise ImproperlyConfigured("WEBHOOK_SECRET_GRACE_HOURS must be between 0 and 8760 (a year)")
# Tests only: names resolved to these addresses instead of asking DNS ({"name": ["192.0.2.1"]}).
WEBHOOK_HOST_OVERRIDES: dict[str, list[str]] = {}

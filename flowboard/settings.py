"""Flowboard settings: one file, configured by environment variables.

Embedded default (nothing set): SQLite in the project folder, Celery tasks run in-process, DEBUG on.
Production (``FLOWBOARD_ENV=production``): refuses to start with DEBUG on or with SECRET_KEY or
ALLOWED_HOSTS missing, and names the variable.

| variable             | meaning                                                       |
|----------------------|---------------------------------------------------------------|
| FLOWBOARD_ENV        | ``development`` (default), ``test`` or ``production``         |
| SECRET_KEY           | required in production                                        |
| DEBUG                | ``1``/``0``; default on outside production                    |
| ALLOWED_HOSTS        | comma-separated; required in production                       |
| CSRF_TRUSTED_ORIGINS | comma-separated origins, for HTTPS behind a proxy             |
| DATABASE_URL         | e.g. ``postgres://user:pass@host:5432/flowboard``             |
| REDIS_URL            | e.g. ``redis://127.0.0.1:6379/0``: Celery broker and cache    |
| TIME_ZONE            | the site time zone, and the default board time zone           |
| METRICS_DEBOUNCE_SECONDS | delay that gathers a burst of moves into one refresh      |
| METRICS_SUMMARY_DEBOUNCE_SECONDS | at most one summary recompute per board this often |
| PUBLIC_URL           | the address ticket systems reach, for webhook URLs            |
| API_RATE             | API requests per token, e.g. ``3000/min``                     |
| API_MAX_BODY_BYTES / HOOK_MAX_BODY_BYTES | request body caps (413 above)         |
| API_IDEMPOTENCY_DAYS | how long a keyed move's first answer is kept for its retries  |
| INTEGRATIONS_SETTLE_SECONDS | how long Jira status changes are held to sort them     |
| OUTBOUND_MAX_ATTEMPTS, OUTBOUND_BACKOFF_SECONDS, OUTBOUND_TIMEOUT_SECONDS | outbound hooks |
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from flowboard.env import env_bool, env_int, env_list, env_str
from flowboard.schedule import BEAT_SCHEDULE

BASE_DIR = Path(__file__).resolve().parent.parent

FLOWBOARD_ENV = env_str("FLOWBOARD_ENV", "development")
if FLOWBOARD_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured(
        f"FLOWBOARD_ENV must be development, test or production, not {FLOWBOARD_ENV!r}."
    )
PRODUCTION = FLOWBOARD_ENV == "production"

DEBUG = env_bool("DEBUG", default=not PRODUCTION)
SECRET_KEY = env_str("SECRET_KEY", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

if PRODUCTION:
    if DEBUG:
        raise ImproperlyConfigured("FLOWBOARD_ENV=production refuses DEBUG=1: set DEBUG=0.")
    if not SECRET_KEY:
        raise ImproperlyConfigured("FLOWBOARD_ENV=production needs the SECRET_KEY variable.")
    if len(SECRET_KEY) < 32:
        raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters in production.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("FLOWBOARD_ENV=production needs the ALLOWED_HOSTS variable.")
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True
elif not SECRET_KEY:
    # A development-only key: never used in production, where the checks above refuse to start.
    SECRET_KEY = "flowboard-development-only-" + "x" * 32

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "boards",
    "readiness",
    "metrics",
    "api",
    "integrations",
    "web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "flowboard.api.ApiBodyLimit",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "flowboard.urls"
WSGI_APPLICATION = "flowboard.wsgi.application"

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
            ],
        },
    },
]

# Database: SQLite in the project folder unless DATABASE_URL is set.
DATABASE_URL = env_str("DATABASE_URL", "")
SQLITE_ENGINE = "flowboard.sqlite"  # Django's SQLite backend, tuned (flowboard/sqlite/base.py)
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"]["ENGINE"] = SQLITE_ENGINE
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            {"transaction_mode": "IMMEDIATE", "timeout": 20}
        )
else:
    DATABASES = {
        "default": {
            "ENGINE": SQLITE_ENGINE,
            "NAME": BASE_DIR / "flowboard.sqlite3",
            # IMMEDIATE takes the write lock when a transaction begins, so two moves can't both
            # read a WIP count before either writes (SQLite has no SELECT ... FOR UPDATE), and
            # a writer waits for the lock (up to the timeout) instead of failing at once.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
            # Tests run on a file, as users do: WAL, and threads each with their connection.
            "TEST": {"NAME": BASE_DIR / "test-flowboard.sqlite3"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: Celery broker and the cache, when REDIS_URL is set.
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "flowboard.cache.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# The beat schedule lives in one place: flowboard/schedule.py.
CELERY_BEAT_SCHEDULE = BEAT_SCHEDULE

METRICS_DEBOUNCE_SECONDS = env_int("METRICS_DEBOUNCE_SECONDS", 5)
METRICS_SUMMARY_DEBOUNCE_SECONDS = env_int("METRICS_SUMMARY_DEBOUNCE_SECONDS", 30)
METRICS_FORECAST_SAMPLE_DAYS = env_int("METRICS_FORECAST_SAMPLE_DAYS", 90)
# Boards with more items than this are recomputed on two processes (PostgreSQL).
METRICS_PARALLEL_THRESHOLD = env_int("METRICS_PARALLEL_THRESHOLD", 20_000)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    # A token first: an anonymous request is answered 401 with its WWW-Authenticate challenge.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["api.auth.TokenRateThrottle"],
    "EXCEPTION_HANDLER": "flowboard.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "flowboard.pagination.Cursor",
    "DEFAULT_METADATA_CLASS": "flowboard.api.Metadata",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "api.schema.Schema",
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# Requests per token (per signed-in user for a session), e.g. "3000/min".
API_RATE = env_str("API_RATE", "3000/min")
# Request bodies: the API's cap, and the webhooks' (GitHub sends up to 25 MB; issues are ~20 kB).
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1024 * 1024)
HOOK_MAX_BODY_BYTES = env_int("HOOK_MAX_BODY_BYTES", 5 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(HOOK_MAX_BODY_BYTES, API_MAX_BODY_BYTES)
# A move's first answer is kept this long for retries with its Idempotency-Key (a later retry
# still writes nothing, and is answered from the log and the item as it is then).
API_IDEMPOTENCY_DAYS = env_int("API_IDEMPOTENCY_DAYS", 7)

SPECTACULAR_SETTINGS = {
    "TITLE": "Flowboard API",
    "DESCRIPTION": (
        "Work items, their moves and readiness criteria on Flowboard's boards, for ticket "
        "systems and scripts. Authenticate with `Authorization: Token <key>` (an ops lead "
        "creates the token in the admin) or a browser session. Every error has the shape "
        "`{code, detail}`, with `errors` per field for invalid input. Unknown fields in a body "
        "are refused (400), never silently ignored."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {},
}

# Inbound webhooks: a Jira item's status changes are held this long, then applied in
# (timestamp, changelog id) order. In-process (no worker to come back later) they apply at once.
INTEGRATIONS_SETTLE_SECONDS = env_int("INTEGRATIONS_SETTLE_SECONDS", 60 if REDIS_URL else 0)
# Outbound webhooks: a try times out after this; failures are retried, doubling from the
# backoff up to its cap, and given up after the last attempt.
OUTBOUND_TIMEOUT_SECONDS = env_int("OUTBOUND_TIMEOUT_SECONDS", 10)
OUTBOUND_MAX_ATTEMPTS = env_int("OUTBOUND_MAX_ATTEMPTS", 8)
OUTBOUND_BACKOFF_SECONDS = env_int("OUTBOUND_BACKOFF_SECONDS", 30)
OUTBOUND_BACKOFF_MAX_SECONDS = env_int("OUTBOUND_BACKOFF_MAX_SECONDS", 6 * 3600)
# The address ticket systems reach Flowboard at, for the webhook URLs shown to ops leads.
PUBLIC_URL = env_str("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per task run is noise when tasks run in-process; a worker logs its own.
        "celery.app.trace": {"level": "WARNING"},
    },
}

"""Shipdesk settings. Every value that differs between machines comes from the environment
(or a `.env` file beside manage.py); `.env.example` lists them all."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="insecure-dev-key-change-me" if DEBUG else environ.Env.NOTSET)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_TZ = True
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True

# Behind HTTPS in production: `HTTPS=true` turns on every setting `check --deploy` asks for.
HTTPS = env.bool("HTTPS", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_PROXY", default=False) else None
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_q",
    "import_export",
    "django_filters",
    "channels",
    "orders",
    "shipping",
    "returns",
    "suppliers",
]
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=DEBUG)
if SANDBOX_ENABLED:
    INSTALLED_APPS.append("sandbox")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Keep connections open: the django-q2 ORM broker polls constantly and reconnecting
# on every poll costs twenty times the throughput.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["ENGINE"] = "config.sqlite"
    # The web server and the task cluster write at once: WAL lets readers run beside the
    # writer, IMMEDIATE takes the write lock up front (no upgrade deadlocks), and the
    # timeout waits for it instead of raising "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Shipdesk <shipdesk@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The address printed in links inside emails (tracking pages, return labels).
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

FIELD_ENCRYPTION_KEY = env("FIELD_ENCRYPTION_KEY", default="")

# Rate limits (returns portal) live in the cache: with several web processes it must be shared,
# e.g. CACHE_URL=rediscache://127.0.0.1:6379/1.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# Task cluster. retry must exceed timeout, or a slow task runs twice; catch_up=False so a
# restart does not replay every missed minute of the schedule.
Q_BROKER = env("Q_BROKER", default="orm")
Q_CLUSTER = {
    "name": "shipdesk",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=600),
    "retry": env.int("Q_TIMEOUT", default=600) + 60,
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": 500,
    "ack_failures": True,
    "poll": 0.5,
    "label": "Task queue",
}
if Q_BROKER == "redis":
    Q_CLUSTER["redis"] = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
else:
    Q_CLUSTER["orm"] = "default"

# Connectors: every outgoing HTTP call has a timeout, and 429/5xx answers are retried with
# exponential backoff and jitter, honouring Retry-After up to CONNECTOR_MAX_SLEEP seconds.
CONNECTOR_TIMEOUT = env.float("CONNECTOR_TIMEOUT", default=20.0)
CONNECTOR_MAX_RETRIES = env.int("CONNECTOR_MAX_RETRIES", default=3)
CONNECTOR_BACKOFF_BASE = env.float("CONNECTOR_BACKOFF_BASE", default=1.0)
CONNECTOR_MAX_SLEEP = env.float("CONNECTOR_MAX_SLEEP", default=60.0)
# Every worker shares one rate budget per channel account (channels/ratebudget.py): in Redis when
# CACHE_URL is Redis, else in the database. RATE_LIMIT_TIME_SCALE speeds the documented rates up
# (tests: equal to SANDBOX_TIME_SCALE, which speeds up the sandbox's buckets alike); a call whose
# slot is further away than RATE_LIMIT_MAX_WAIT seconds fails as retryable instead of sleeping.
RATE_LIMIT_TIME_SCALE = env.float("RATE_LIMIT_TIME_SCALE", default=1.0)
RATE_LIMIT_MAX_WAIT = env.float("RATE_LIMIT_MAX_WAIT", default=300.0)
SANDBOX_TIME_SCALE = env.float("SANDBOX_TIME_SCALE", default=1.0)
# A sync that has not finished after this many minutes is taken as dead and may be claimed again.
SYNC_STALE_MINUTES = env.int("SYNC_STALE_MINUTES", default=30)
# Fulfilments that failed to push are retried with backoff up to this many times, then marked failed.
PUSH_MAX_ATTEMPTS = env.int("PUSH_MAX_ATTEMPTS", default=8)

# Called by orders.importing after commit with the ids of newly imported orders
# (dropshipping routes supplier lines from here, so orders never imports suppliers).
ORDER_IMPORTED_HANDLERS = env.list("ORDER_IMPORTED_HANDLERS", default=["suppliers.routing.route_imported_orders"])
# Called by orders.services after commit with the ids of orders just cancelled (by staff or on
# the channel): dropshipping cancels or flags their supplier orders from here.
ORDER_CANCELLED_HANDLERS = env.list(
    "ORDER_CANCELLED_HANDLERS", default=["suppliers.cancelling.cancel_supplier_orders"]
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# ---------------------------------------------------------------------------------------------
# Returns (the public returns portal, returns/)
# Lookup attempts allowed, written as "<count>/<period>" (5/minute, 10/day, 20/15m). Per client
# address every attempt counts; per order number only failed ones, whether or not it exists.
RETURNS_LOOKUP_RATE_PER_IP = env("RETURNS_LOOKUP_RATE_PER_IP", default="5/minute")
RETURNS_LOOKUP_RATE_PER_ORDER = env("RETURNS_LOOKUP_RATE_PER_ORDER", default="10/day")
# The counters live in this cache. The default cache is local memory, one per process: with
# several web processes or servers, point it at a shared cache (Redis, Memcached, database).
RETURNS_RATELIMIT_CACHE = env("RETURNS_RATELIMIT_CACHE", default="default")
# How many proxies of our own stand in front of the site (the client address is then read
# from X-Forwarded-For); 0 trusts REMOTE_ADDR only.
RETURNS_TRUSTED_PROXY_COUNT = env.int("RETURNS_TRUSTED_PROXY_COUNT", default=0)
# A customer's portal session (one order, signed cookie) lasts this long.
RETURNS_SESSION_MINUTES = env.int("RETURNS_SESSION_MINUTES", default=60)

# ---------------------------------------------------------------------------------------------
# CSV (bulk shipment uploads and spreadsheet exports: shipping/csv_*.py, shipping/resources.py,
# orders/resources.py)
# An upload above this size is refused before it is stored.
CSV_MAX_UPLOAD_MB = env.int("CSV_MAX_UPLOAD_MB", default=50)
# At most this many rows per file, and this many columns in its header.
CSV_MAX_ROWS = env.int("CSV_MAX_ROWS", default=200_000)
CSV_MAX_COLUMNS = env.int("CSV_MAX_COLUMNS", default=100)
# Files up to this size are checked during the upload request; bigger ones by the task cluster
# (the upload returns at once and the page shows progress).
CSV_INLINE_MAX_BYTES = env.int("CSV_INLINE_MAX_BYTES", default=256 * 1024)
# A confirmed "record" file of up to this many rows is imported during the request; more, and
# every "book" file (one carrier call per row), by the task cluster.
CSV_INLINE_MAX_ROWS = env.int("CSV_INLINE_MAX_ROWS", default=500)
# Rows checked and written per chunk (one transaction and a handful of queries each).
CSV_CHUNK_ROWS = env.int("CSV_CHUNK_ROWS", default=5000)
# How 03/04/2026 is read: DMY (3 April, the default) or MDY (March 4).
CSV_DATE_ORDER = env("CSV_DATE_ORDER", default="DMY")
# Tracking companies a "record" upload accepts besides the known ones and those set on carrier
# accounts and shipping mappings, e.g. CSV_EXTRA_CARRIERS=Evri,Yodel
CSV_EXTRA_CARRIERS = env.list("CSV_EXTRA_CARRIERS", default=[])
# django-import-export: exporting a list needs the model's view permission (by default any
# staff user could export every order), and characters XLSX cannot hold are replaced rather
# than failing the export.
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_EXPORT_ESCAPE_ILLEGAL_CHARS_ON_EXPORT = True

"""Shipdesk settings. Every value that differs between machines comes from the environment
(or a `.env` file beside manage.py, or in the working directory of an installed copy);
`.env.example` lists them all."""

import os
import sys
from pathlib import Path

import environ

# Karrio (direct carrier accounts) brings lxml, and openpyxl switches to it when it is installed:
# its writer then keeps a carriage return in a cell that the standard library's writer turned into
# a newline, which changes what XLSX exports hold. Keep openpyxl's own writer, as before.
os.environ.setdefault("OPENPYXL_LXML", "False")

CONFIG_DIR = Path(__file__).resolve().parent
# A checkout (manage.py beside config/), or an installed copy (`pip install .`) run from its working
# directory: where .env, the default SQLite file, media/ and staticfiles/ are looked for.
BASE_DIR = CONFIG_DIR.parent if (CONFIG_DIR.parent / "manage.py").exists() else Path.cwd()
# templates/ and locale/ sit at the top of a checkout; an installed copy carries them inside the
# config package (setup.py puts them there).
ASSETS_DIR = CONFIG_DIR if (CONFIG_DIR / "templates").is_dir() else CONFIG_DIR.parent

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
LOCALE_PATHS = [ASSETS_DIR / "locale"]
USE_I18N = True

# Behind HTTPS in production: `HTTPS=true` turns on every setting `check --deploy` asks for.
HTTPS = env.bool("HTTPS", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_PROXY", default=False) else None
)
# Load balancers probe /healthz over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "config.admin_apps.ShipdeskAdminConfig",  # django.contrib.admin with Shipdesk's site (config/admin_site.py)
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
    "api",
    "rest_framework",
    "drf_spectacular",
    "axes",
    "config",  # operations: the task cluster's heartbeat, /healthz
]
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=DEBUG)
if SANDBOX_ENABLED:
    INSTALLED_APPS.append("sandbox")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.RejectControlCharactersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

# Staff sign-in is rate-limited by django-axes: after AXES_FAILURE_LIMIT wrong passwords for one
# username from one address, that pair is refused for AXES_COOLOFF_MINUTES (a stranger elsewhere
# cannot lock a colleague out). Attempts are rows in the database, shared by every web process;
# staff see them under Axes in the admin and a superuser can delete one to unlock early.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_MINUTES", default=15.0) / 60  # hours, as axes reads it
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "config.signin.attempted_username"  # cut to a username's length (config/signin.py)

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [ASSETS_DIR / "templates"],
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
if sys.argv[1:2] == ["runserver"]:
    # The development server answers each request in a new thread, and a thread's connection is
    # never reused: kept open, they pile up (36 idle PostgreSQL connections after 100 portal
    # requests, measured). gunicorn's sync workers and the task cluster reuse theirs.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
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
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
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
# `python -m config.cluster` (how every start script runs the cluster) gives running tasks this
# long to finish when asked to stop, then kills them: their work is queued again by the dispatcher.
Q_STOP_SECONDS = env.float("Q_STOP_SECONDS", default=10.0)
# The dispatcher runs every minute; older than this, /healthz and the admin index say the cluster
# is not running.
CLUSTER_STALE_SECONDS = env.int("CLUSTER_STALE_SECONDS", default=180)
if Q_BROKER == "redis":
    Q_CLUSTER["redis"] = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
else:
    Q_CLUSTER["orm"] = "default"

# Connectors: every outgoing HTTP call has a timeout, and 429/5xx answers are retried with
# exponential backoff and jitter, honouring Retry-After up to CONNECTOR_MAX_SLEEP seconds.
CONNECTOR_TIMEOUT = env.float("CONNECTOR_TIMEOUT", default=20.0)
# Direct carrier accounts (Karrio): its own request log and tracebacks on stderr, off by default.
KARRIO_LOGS = env.bool("KARRIO_LOGS", default=False)
CONNECTOR_MAX_RETRIES = env.int("CONNECTOR_MAX_RETRIES", default=3)
CONNECTOR_BACKOFF_BASE = env.float("CONNECTOR_BACKOFF_BASE", default=1.0)
CONNECTOR_MAX_SLEEP = env.float("CONNECTOR_MAX_SLEEP", default=60.0)
# A running sync renews its heartbeat on every page; a claim whose heartbeat is older than this
# is taken as dead (its worker was killed) and the next sync continues from the saved cursor.
SYNC_HEARTBEAT_STALE_SECONDS = env.int("SYNC_HEARTBEAT_STALE_SECONDS", default=120)
# A bulk booking's order (or its merge step) whose worker has not said it is alive for this long
# is claimed again by another worker; the every-minute dispatcher queues it.
BULK_HEARTBEAT_STALE_SECONDS = env.int("BULK_HEARTBEAT_STALE_SECONDS", default=120)
# A job, sync or fulfilment that has made no progress for this long is shown on the desk as stuck
# and emailed (once) to subscribed staff.
STUCK_ALERT_MINUTES = env.int("STUCK_ALERT_MINUTES", default=15)
# How often the admin index asks for fresh work-queue counts (config/queues.py), in seconds.
DESK_QUEUES_POLL_SECONDS = env.int("DESK_QUEUES_POLL_SECONDS", default=30)
# Every worker shares one rate budget per channel account (channels/ratebudget.py): in Redis when
# CACHE_URL is Redis, else in the database. RATE_LIMIT_TIME_SCALE speeds the documented rates up
# (tests: equal to SANDBOX_TIME_SCALE, which speeds up the sandbox's buckets alike); a call whose
# slot is further away than RATE_LIMIT_MAX_WAIT seconds fails as retryable instead of sleeping.
RATE_LIMIT_TIME_SCALE = env.float("RATE_LIMIT_TIME_SCALE", default=1.0)
RATE_LIMIT_MAX_WAIT = env.float("RATE_LIMIT_MAX_WAIT", default=300.0)
SANDBOX_TIME_SCALE = env.float("SANDBOX_TIME_SCALE", default=1.0)
# Fulfilments that failed to push are retried with backoff up to this many times, then marked failed.
PUSH_MAX_ATTEMPTS = env.int("PUSH_MAX_ATTEMPTS", default=8)
# A push's claim on its fulfilment lasts at least this long (never less than one connector call's
# worst case, which the outbox adds itself) and is renewed before every call to the channel.
PUSH_CLAIM_SECONDS = env.int("PUSH_CLAIM_SECONDS", default=0)
# A relabel's old tracking waits this long for the new label's fulfilment to replace it on the
# channel before it is simply taken back.
PUSH_RELABEL_GRACE_SECONDS = env.int("PUSH_RELABEL_GRACE_SECONDS", default=600)
# A signed webhook (channel or carrier) dated further back than this is ignored: a captured
# delivery cannot be replayed later. Scheduled syncs and polls still read every change.
WEBHOOK_MAX_AGE_SECONDS = env.int("WEBHOOK_MAX_AGE_SECONDS", default=900)

# Called by orders.importing after commit with the ids of newly imported orders
# (dropshipping routes supplier lines from here, so orders never imports suppliers).
ORDER_IMPORTED_HANDLERS = env.list(
    "ORDER_IMPORTED_HANDLERS", default=["suppliers.routing.route_imported_orders"]
)
# Called by orders.services after commit with the ids of orders just cancelled (by staff or on
# the channel): dropshipping cancels or flags their supplier orders from here.
ORDER_CANCELLED_HANDLERS = env.list(
    "ORDER_CANCELLED_HANDLERS", default=["suppliers.cancelling.cancel_supplier_orders"]
)
# Called by orders *inside* the transaction that records new OrderEvent rows (record_event and the
# import's bulk insert), with those rows: outgoing webhooks write their deliveries from here.
ORDER_EVENT_HANDLERS = env.list("ORDER_EVENT_HANDLERS", default=["api.webhooks.events_recorded"])

# Outgoing webhooks (api/webhooks.py, api/delivery.py; README "Webhooks").
# Each HTTP attempt gives up after this many seconds (connect and read).
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=10.0)
# A delivery that keeps failing is retried with exponential backoff and jitter (the first retry
# after about WEBHOOK_BACKOFF_SECONDS) for this many hours after it was written, then given up.
WEBHOOK_BACKOFF_SECONDS = env.float("WEBHOOK_BACKOFF_SECONDS", default=30.0)
WEBHOOK_RETRY_HOURS = env.float("WEBHOOK_RETRY_HOURS", default=24.0)
# An endpoint is disabled (one email to staff) after this many failed attempts in a row, or when
# every attempt has failed for WEBHOOK_DISABLE_AFTER_HOURS.
WEBHOOK_DISABLE_AFTER_FAILURES = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=100)
WEBHOOK_DISABLE_AFTER_HOURS = env.float("WEBHOOK_DISABLE_AFTER_HOURS", default=24.0)
# Endpoints on private, loopback or link-local addresses are refused unless this is on (it is in
# development: DEBUG=true), so the admin cannot be used to reach the internal network.
WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("WEBHOOK_ALLOW_PRIVATE_URLS", default=DEBUG)
# Which endpoints subscribe to which event types is cached this long in the default cache (shared
# by every process when CACHE_URL is Redis); saving an endpoint clears it in the process that saved.
WEBHOOK_SUBSCRIPTIONS_CACHE_SECONDS = env.int("WEBHOOK_SUBSCRIPTIONS_CACHE_SECONDS", default=60)

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
RETURNS_LOOKUP_RATE_PER_ORDER = env("RETURNS_LOOKUP_RATE_PER_ORDER", default="5/day")
# A customer locked out by those wrong guesses asks for a link, emailed to the address on the
# order; this many requests per order number, valid this many minutes.
RETURNS_LINK_RATE_PER_ORDER = env("RETURNS_LINK_RATE_PER_ORDER", default="3/day")
RETURNS_LINK_MINUTES = env.int("RETURNS_LINK_MINUTES", default=60)
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
# An .xlsx is a ZIP: before it is read, what it unpacks to is checked against these (a 300 KB
# workbook can hold a 300 MB cell). They bound the task worker's memory while reading a workbook.
XLSX_MAX_UNPACKED_MB = env.int("XLSX_MAX_UNPACKED_MB", default=200)
XLSX_MAX_RATIO = env.int("XLSX_MAX_RATIO", default=100)
XLSX_MAX_ENTRIES = env.int("XLSX_MAX_ENTRIES", default=1000)
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

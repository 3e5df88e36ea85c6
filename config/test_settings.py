"""Settings for the test suite: tasks run inline, fast hashing, no HTTPS redirects."""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key")
os.environ.setdefault("SANDBOX_ENABLED", "true")
os.environ.setdefault("HTTPS", "false")

from config.settings import *  # noqa: E402,F403
from config.settings import Q_CLUSTER  # noqa: E402

Q_CLUSTER["sync"] = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CONNECTOR_BACKOFF_BASE = 0.01
CONNECTOR_MAX_SLEEP = 0.05
CONNECTOR_TIMEOUT = 5.0
# The sandbox enforces the channels' documented rate limits; 50 times faster here, and the
# connectors' shared budgets alike, so ratios stay true and the suite stays fast.
SANDBOX_TIME_SCALE = RATE_LIMIT_TIME_SCALE = 50.0
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
WHITENOISE_USE_FINDERS = True
# Webhook endpoints in tests are the sandbox receiver on live_server (127.0.0.1).
WEBHOOK_ALLOW_PRIVATE_URLS = True
LOGGING["root"]["level"] = "WARNING"  # noqa: F405

# In-memory SQLite for tests, one per xdist worker (pytest-django only recognises Django's own
# engine path, so say it explicitly for ours).
if DATABASES["default"]["ENGINE"] == "config.sqlite":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}  # noqa: F405

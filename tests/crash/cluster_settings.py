"""Settings for a real `manage.py qcluster` started by the crash tests: the test settings, but
tasks go through Redis (no inline execution) and the heartbeat windows are seconds, not minutes.
The test passes the test database (DATABASE_URL), the media folder and the Redis database in the
environment."""

import os

from config.test_settings import *  # noqa: F403

Q_CLUSTER = {
    # A Redis list of this test's own. (The name is also the signing salt: the test process signs
    # what it enqueues with it. It must be the cluster's name, not an alternative cluster_name, or
    # the cluster would not run the default schedules.)
    "name": os.environ["Q_CLUSTER_QUEUE"],
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    "timeout": 120,
    "retry": 180,
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": 0,
    "ack_failures": True,
    "poll": 0.2,
    "redis": os.environ["REDIS_URL"],
    "label": "Task queue",
}
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405 - the test database is dropped at the end
SYNC_HEARTBEAT_STALE_SECONDS = int(os.environ.get("SYNC_HEARTBEAT_STALE_SECONDS", "5"))
BULK_HEARTBEAT_STALE_SECONDS = int(os.environ.get("BULK_HEARTBEAT_STALE_SECONDS", "5"))
# A push's claim outlives one connector call's worst case (orders.pushing.claim_seconds): keep that
# call short here (10 s timeout, one retry) so a dead worker's push is taken over within a minute.
CONNECTOR_TIMEOUT = 10.0
CONNECTOR_MAX_RETRIES = 1
LOGGING["root"]["level"] = os.environ.get("LOG_LEVEL", "WARNING")  # noqa: F405

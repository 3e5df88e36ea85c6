import contextlib
import os
import signal

import pytest


@pytest.fixture
def cleanup():
    """cleanup(tag): whatever a failed test left running with this tag is killed."""
    from tests.ops.test_stopping import tagged_processes

    tags = []
    yield tags.append
    for tag in tags:
        for pid in tagged_processes(tag):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

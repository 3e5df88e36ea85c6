"""Production settings pass `manage.py check --deploy` when the environment says so."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_check(env_overrides):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DEBUG", "HTTPS", "SANDBOX_ENABLED", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", **env_overrides})
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_production_settings_pass_check_deploy():
    result = run_check({"DEBUG": "false", "SECRET_KEY": "x" * 60 + "-production-secret-key-with-entropy-9f8e7d",
                        "ALLOWED_HOSTS": "shipdesk.example.com"})
    assert result.returncode == 0, result.stdout + result.stderr


def test_development_settings_are_flagged_by_check_deploy():
    result = run_check({"DEBUG": "true"})
    assert result.returncode != 0
    assert "DEBUG" in result.stdout + result.stderr

"""Production settings pass `manage.py check --deploy` when the environment says so."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_check(env_overrides):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DEBUG", "HTTPS", "SANDBOX_ENABLED", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", **env_overrides})
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy():
    result = run_check(
        {
            "DEBUG": "false",
            "SECRET_KEY": "x" * 60 + "-production-secret-key-with-entropy-9f8e7d",
            "ALLOWED_HOSTS": "shipdesk.example.com",
        }
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_development_settings_are_flagged_by_check_deploy():
    result = run_check({"DEBUG": "true"})
    assert result.returncode != 0
    assert "DEBUG" in result.stdout + result.stderr


def test_env_example_copied_to_a_env_file_gives_clean_values_and_passes_check_deploy(tmp_path):
    # django-environ keeps an inline "# comment" as part of the value, so a copied .env.example
    # must keep its comments on their own lines; and every setting it names must be one Shipdesk reads.
    parsed = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            parsed[key.strip()] = value
    assert parsed, ".env.example lists no variables"
    assert not [k for k, v in parsed.items() if "#" in v], "inline comments would become part of the value"
    source = "".join(p.read_text() for app in ("config", "sandbox") for p in (ROOT / app).rglob("*.py"))
    assert not [k for k in parsed if k not in source], "a variable .env.example names is never read"

    secret = "x" * 60 + "-production-secret-key-with-entropy-9f8e7d"
    overrides = {k: v for k, v in parsed.items() if k not in ("MEDIA_ROOT",)}
    overrides.update(SECRET_KEY=secret, MEDIA_ROOT=str(tmp_path / "media"))
    result = run_check(overrides)
    assert result.returncode == 0, result.stdout + result.stderr

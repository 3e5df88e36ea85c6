"""`pip install .` gives a working Shipdesk outside the checkout: the wheel carries templates/,
locale/ (compiled) and the apps' own templates, and an installed copy serves a translated page and
collects its static files. Built from a copy of the source, installed with --no-deps into a folder
put on PYTHONPATH (Django and the rest come from this virtualenv), run from an empty directory."""

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

INSTALLED_COPY = textwrap.dedent("""
    import os, sys
    from pathlib import Path

    import django

    site, work = Path(sys.argv[1]), Path.cwd()
    os.environ.update(DJANGO_SETTINGS_MODULE="config.settings", SECRET_KEY="x" * 50, DEBUG="false",
                      HTTPS="false", ALLOWED_HOSTS="testserver", DATABASE_URL=f"sqlite:///{work}/db.sqlite3",
                      MEDIA_ROOT=str(work / "media"), STATIC_ROOT=str(work / "static"))
    django.setup()
    import config
    assert Path(config.__file__).is_relative_to(site), config.__file__

    from django.conf import settings
    from django.core.management import call_command
    from django.template.loader import get_template
    from django.test import Client

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    assert list((work / "static" / "admin" / "css").glob("base.*.css")), "admin static files not collected"

    from shipping.models import Address, Brand
    sender = Address.objects.create(label="Leeds", name="Northern Goods", line1="Unit 4", city="Leeds",
                                    postal_code="LS11 5PS", country="GB")
    Brand.objects.create(name="Northern Goods", slug="northern-goods", sender_address=sender, is_default=True)
    page = Client().get("/returns/northern-goods/", HTTP_ACCEPT_LANGUAGE="fr")
    assert page.status_code == 200, page.status_code
    assert "Numéro de commande" in page.content.decode(), "the French catalogue is not installed"
    get_template("admin/returns/reject.html")  # an app's own templates
    get_template("emails/shipping/shipped_subject.txt")
    assert Client().get("/healthz").status_code == 200
    print("installed copy OK from", settings.TEMPLATES[0]["DIRS"][0])
""")


def test_an_installed_wheel_renders_translated_pages_outside_the_checkout(tmp_path):
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    source = tmp_path / "src"
    for name in listed:
        if (ROOT / name).is_file() and not name.startswith(("tests/", "bench/")):
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "-w", str(tmp_path / "dist"), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next((tmp_path / "dist").glob("shipdesk-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "config/templates/returns/lookup.html" in names
    assert "config/locale/fr/LC_MESSAGES/django.mo" in names
    assert "returns/templates/admin/returns/reject.html" in names
    assert not [n for n in names if n.startswith(("tests/", "templates/", "locale/")) or "__pycache__" in n]
    assert "License-Expression: MIT" in metadata

    site, work = tmp_path / "site", tmp_path / "work"
    work.mkdir()
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "PYTEST_"))}
    env["PYTHONPATH"] = str(site)
    result = subprocess.run(
        [sys.executable, "-c", INSTALLED_COPY, str(site)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"installed copy OK from {site}/config/templates" in result.stdout

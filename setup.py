"""What pyproject.toml cannot say. templates/ and locale/ sit at the top of the checkout, where
Django finds them in development; `pip install .` puts them inside the config package
(config/templates, config/locale), where config/settings.py finds them in an installed copy.
Folders of data (templates/admin/…, locale/fr/LC_MESSAGES) are listed as namespace packages,
which is how setuptools ships data folders."""

from pathlib import Path

from setuptools import find_namespace_packages, setup

ROOT = Path(__file__).resolve().parent
APPS = ["config", "channels", "orders", "shipping", "returns", "suppliers", "api", "sandbox"]
MOVED = {"config.templates": "templates", "config.locale": "locale"}


def folders(package: str, directory: str) -> list[str]:
    base = ROOT / directory
    return [package] + [
        f"{package}.{'.'.join(p.relative_to(base).parts)}"
        for p in sorted(base.rglob("*"))
        if p.is_dir() and p.name != "__pycache__"
    ]


setup(
    packages=find_namespace_packages(
        include=[n for app in APPS for n in (app, f"{app}.*")], exclude=["*.__pycache__"]
    )
    + [name for package, directory in MOVED.items() for name in folders(package, directory)],
    package_dir=MOVED,
)

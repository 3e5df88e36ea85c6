"""CI: every translation catalogue under locale/ is complete (no untranslated or fuzzy entry) and
compiled (its .mo holds exactly what its .po says). Needs GNU gettext's msgfmt. Exit 1 otherwise."""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

LOCALE = Path(__file__).resolve().parent.parent / "locale"


def check(po: Path) -> list[str]:
    mo = po.with_suffix(".mo")
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "fresh.mo"
        result = subprocess.run(
            ["msgfmt", "--check", "--statistics", "-o", str(fresh), str(po)], capture_output=True, text=True
        )
        stats = (result.stdout + result.stderr).strip()
        if result.returncode:
            return [f"{po}: msgfmt --check failed:\n{stats}"]
        problems = [
            f"{po}: {n} {kind}"
            for n, kind in re.findall(r"(\d+) (fuzzy translations?|untranslated messages?)", stats)
        ]
        if not mo.exists():
            problems.append(f"{mo} is missing: run `manage.py compilemessages`")
        else:
            with fresh.open("rb") as f1, mo.open("rb") as f2:
                if gettext.GNUTranslations(f1)._catalog != gettext.GNUTranslations(f2)._catalog:
                    problems.append(f"{mo} is out of date with {po.name}: run `manage.py compilemessages`")
        if not problems:
            print(f"{po.relative_to(LOCALE.parent)}: {stats}")
        return problems


def main() -> int:
    if not shutil.which("msgfmt"):
        print("msgfmt is missing: install GNU gettext (apt-get install gettext)", file=sys.stderr)
        return 1
    catalogues = sorted(LOCALE.glob("*/LC_MESSAGES/*.po"))
    if not catalogues:
        print(f"no catalogue under {LOCALE}", file=sys.stderr)
        return 1
    problems = [p for po in catalogues for p in check(po)]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

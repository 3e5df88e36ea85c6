"""`python -m bench [--db sqlite|postgres|both] [NAME …]`: run every benchmark under bench/, or some.

Each benchmark runs in a process of its own, once per database (both by default when a
PostgreSQL server answers at BENCH_POSTGRES_URL, else SQLite alone, said so), with a database
created for it alone (bench/common.py). A benchmark is a module bench/<name>.py with a `run()`
that measures itself against a baseline in the same process, prints one sentence and appends
one JSON line to bench/results.jsonl."""

import argparse
import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

SKIP = {"common", "readme"}


def names() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name not in SKIP and not m.name.startswith("_")
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default=os.environ.get("DB") or None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("names", nargs="*")
    args = parser.parse_args(argv)
    wanted = [a for a in args.names if a] or names()
    unknown = [n for n in wanted if n not in names()]
    if unknown:
        print(f"No benchmark named {', '.join(unknown)}. Available: {', '.join(names())}")
        return 2
    if args.child:  # one benchmark, one database, this process
        importlib.import_module(f"bench.{wanted[0]}").run()
        return 0

    from bench.common import POSTGRES_SERVER, RUN_ID, postgres_available

    if args.db in (None, "both"):
        databases = ["sqlite", "postgres"] if postgres_available() else ["sqlite"]
        if databases == ["sqlite"]:
            print(f"(No PostgreSQL server answers at {POSTGRES_SERVER}: SQLite only.)")
    else:
        databases = [args.db]
    failed = []
    for name in wanted:
        for database in databases:
            print(f"== bench {name} on {database} (run {RUN_ID})", flush=True)
            child = subprocess.run(
                [sys.executable, "-m", "bench", "--child", name],
                env={**os.environ, "BENCH_DB": database, "BENCH_RUN_ID": RUN_ID},
            )
            if child.returncode:
                failed.append(f"{name} on {database}")
    if failed:
        print("Failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

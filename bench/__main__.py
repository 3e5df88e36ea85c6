"""`python -m bench [NAME]`: run every benchmark under bench/, or one.

Each benchmark is a module bench/<name>.py with a `run()` function that sets up its own
throwaway database, measures itself against a baseline in the same process, prints one
sentence and appends one JSON line to bench/results.jsonl (see bench/common.py)."""

import importlib
import pkgutil
import sys
from pathlib import Path

SKIP = {"common"}


def names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name not in SKIP
                  and not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    wanted = [a for a in argv if a] or names()
    unknown = [n for n in wanted if n not in names()]
    if unknown:
        print(f"No benchmark named {', '.join(unknown)}. Available: {', '.join(names())}")
        return 2
    for name in wanted:
        print(f"== bench {name}")
        importlib.import_module(f"bench.{name}").run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

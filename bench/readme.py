"""`make bench-readme`: the README's benchmark table, written from bench/results.jsonl.

The latest line of each (benchmark, database) pair becomes one row, between the markers
`<!-- bench:start -->` and `<!-- bench:end -->` in README.md; nothing in the table is typed by
hand. `python -m bench.readme --check` exits 1 when the README's table is not what the results
file gives (CI can run it)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

from bench.common import RESULTS, ROOT

README = ROOT / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def latest(path: Path = RESULTS) -> dict[tuple[str, str], dict]:
    rows: dict[tuple[str, str], dict] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            rows[(row["name"], row.get("database", "?"))] = row  # later lines win
    return rows


def what(name: str) -> str:
    """The first sentence of the benchmark module's docstring, after its `make bench NAME=…`."""
    try:
        doc = importlib.import_module(f"bench.{name}").__doc__ or ""
    except ImportError:
        return ""
    first = " ".join(doc.strip().split("\n\n", 1)[0].split())
    return first.split(":", 1)[1].strip() if first.startswith("`") and ":" in first else first


def _number(x) -> str:
    if isinstance(x, int | float):
        return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}".rstrip("0").rstrip(".")
    return str(x)


def table(rows: dict[tuple[str, str], dict]) -> str:
    out = [
        "| benchmark | database | result | ratio | goal | met | peak RSS | commit, date, load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (name, database), r in sorted(rows.items()):
        if r.get("unit") and r.get("goal") == "information only":
            met = "–"
        else:
            met = {True: "yes", False: "**no**"}.get(r.get("goal_met"), "?")
        load = r.get("load_before")
        load_text = f", load {load[0]:.1f}" if isinstance(load, list) and load else ""
        if "commit" in r:
            peak, when = (
                f"{_number(r.get('peak_mb', 0))} MB",
                f"{r['commit']}, {r.get('at', '?')[:10]}{load_text}",
            )
        else:  # written before lines said what ran: its peak may be the Python heap, its database a guess
            peak, when = "not recorded", f"older harness, {r.get('at', '?')[:10]}"
        out.append(
            f"| `{name}`: {what(name.split('_')[0])} | {database} | {_number(r['value'])} {r['unit']} "
            f"| {_number(r['ratio'])} | {r['goal']} | {met} | {peak} | {when} |"
        )
    return "\n".join(out)


def render(readme: str, rows) -> str:
    if START not in readme or END not in readme:
        raise SystemExit(f"README.md has no {START} … {END} markers for the table")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table(rows)}\n{END}{tail}"


def main(argv: list[str]) -> int:
    current = README.read_text()
    wanted = render(current, latest())
    if "--check" in argv:
        if wanted != current:
            print("README.md's benchmark table differs from bench/results.jsonl: run `make bench-readme`.")
            return 1
        return 0
    README.write_text(wanted)
    print(f"README.md: {len(latest())} benchmark rows from {RESULTS.name}.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

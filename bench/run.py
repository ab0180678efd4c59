"""Every benchmark in one run, with the database's own ceiling beside it: `bench/run [--quick]`.

1. The lists and dashboards (bench/lists.py) on databases seeded by bench/seed.py with 10,000,
   100,000 and 1,000,000 tickets in one company (50 more companies beside it): p50/p95 through
   gunicorn, statements and SQL time per page, and the ticket archive under 8 connections.
   Seeded databases are kept (`.data/bench/<name>.json`) and seeded again only when the
   schema changed or with `--reseed`.
2. The engine benchmarks (bench/engine.py), which start with pgbench TPC-B on the same server.

`--quick` runs everything small (2,000 and 5,000 tickets, seconds instead of minutes): what CI
runs to show the benchmarks work, not to measure. The report is printed and written to
`.data/bench/report.md`.
"""

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]
STATE = BASE_DIR / ".data" / "bench"
TARGET_SQL_MS = 20.0
TARGET_P95_MS = 150.0
TARGET_RATIO = 1.5


def schema_version() -> str:
    """A digest of every migration: a database seeded under other migrations is seeded again."""
    digest = hashlib.sha256()
    for path in sorted(BASE_DIR.glob("ticketflower/*/migrations/0*.py")):
        digest.update(str(path.relative_to(BASE_DIR)).encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def seeded(tickets: int, others: int, other_tickets: int, *, reseed: bool) -> Path:
    """The info file of a database with `tickets` tickets, seeding it when needed."""
    name = f"tf_bench_{tickets}"
    info = STATE / f"{name}.json"
    wanted = {"tickets": tickets, "others": others, "schema": schema_version()}
    if info.exists() and not reseed:
        known = json.loads(info.read_text())
        if all(known.get(key) == value for key, value in wanted.items()):
            return info
    STATE.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        str(BASE_DIR / "bench" / "seed.py"),
        f"--database={name}",
        f"--tickets={tickets}",
        f"--others={others}",
        f"--other-tickets={other_tickets}",
        f"--info={info}",
    ]
    subprocess.run(command, check=True, cwd=BASE_DIR)  # noqa: S603
    known = json.loads(info.read_text())
    info.write_text(json.dumps({**known, "schema": wanted["schema"]}))
    return info


def _output(*command: str) -> str:
    """What `command` prints; if it fails, what it printed and why, and the run stops."""
    done = subprocess.run(command, check=False, cwd=BASE_DIR, capture_output=True, text=True)  # noqa: S603
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-5000:] + done.stderr[-10000:])
        raise SystemExit(f"{' '.join(command[1:3])} failed (exit {done.returncode}).")
    return done.stdout


def measure_lists(info: Path, seconds: float, concurrent_seconds: float) -> list[dict[str, Any]]:
    printed = _output(
        sys.executable,
        str(BASE_DIR / "bench" / "lists.py"),
        f"--info={info}",
        f"--seconds={seconds}",
        f"--concurrent-seconds={concurrent_seconds}",
    )
    return [json.loads(line) for line in printed.splitlines() if line.startswith("{")]


def engine(seconds: int, runs: int) -> str:
    printed = _output(
        sys.executable, str(BASE_DIR / "bench" / "engine.py"), f"--seconds={seconds}", f"--runs={runs}"
    )
    return printed[printed.index("| measure") :].strip()


def _cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "—"
    shown = f", {row['rows']} rows" if row.get("rows") is not None else ""
    timing = f"{row['p50_ms']:.0f} / {row['p95_ms']:.0f} ms"
    return f"{timing}, {row['queries']} q, {row['sql_ms']:.1f} ms SQL{shown}"


def report(
    sizes: list[int], results: dict[int, list[dict[str, Any]]], engine_table: str, *, quick: bool = False
) -> str:
    lines = ["## Lists and dashboards", ""]
    header = " | ".join(f"{size:,} tickets: p50 / p95, statements, SQL" for size in sizes)
    lines += [f"| page | {header} | p95 vs {sizes[0]:,} |", "|---" * (len(sizes) + 2) + "|"]
    by_size = {size: {row["page"]: row for row in rows if "queries" in row} for size, rows in results.items()}
    biggest, smallest = sizes[-1], sizes[0]
    missed = []
    for page in by_size[smallest]:
        cells = [_cell(by_size[size].get(page)) for size in sizes]
        big, small = by_size[biggest].get(page), by_size[smallest].get(page)
        ratio = big["p95_ms"] / small["p95_ms"] if big and small and small["p95_ms"] else 0.0
        # The same page at the smaller size may list fewer rows (fewer open tasks, say): then
        # it is less work, and the ratio says nothing about the table's size.
        alike = bool(big and small and big.get("rows") == small.get("rows"))
        lines.append(f"| {page} | {' | '.join(cells)} | {ratio:.2f}x{'' if alike else ' (rows differ)'} |")
        if big and (
            big["sql_ms"] > TARGET_SQL_MS
            or big["p95_ms"] > TARGET_P95_MS
            or (alike and ratio > TARGET_RATIO)
            or big["status"] != 200
            or big["failures"]
        ):
            missed.append(page)
    lines += [
        "",
        "| ticket archive, 8 connections | requests/s | p50 | p99 | failures |",
        "|---|---|---|---|---|",
    ]
    for size in sizes:
        busy = next(row for row in results[size] if "per_second" in row)
        lines.append(
            f"| {size:,} tickets | {busy['per_second']:.0f} | {busy['p50_ms']:.0f} ms | "
            f"{busy['p99_ms']:.0f} ms | {busy['failures']} |"
        )
    p95s = [row["p95_ms"] for row in by_size[biggest].values()]
    targets = (
        f"Targets (SQL <= {TARGET_SQL_MS:.0f} ms, p95 <= {TARGET_P95_MS:.0f} ms, "
        f"<= {TARGET_RATIO}x the {smallest:,} page listing as many rows): "
        + ("all met." if not missed else "missed by " + "; ".join(missed) + ".")
    )
    if quick:  # half a second a page: p95s of a handful of requests
        targets = "A quick run: too small and too short to hold against the targets."
    lines += [
        "",
        f"At {biggest:,} tickets: every page's p95 median {statistics.median(p95s):.0f} ms, "
        f"worst {max(p95s):.0f} ms. {targets}",
        "",
        "## Engine (and pgbench on the same server)",
        "",
        engine_table,
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small and short: shows it all works")
    parser.add_argument("--reseed", action="store_true", help="seed the databases again")
    parser.add_argument("--sizes", help="comma-separated ticket counts (default 10000,100000,1000000)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
    if args.quick:
        sizes, others, other_tickets = [2_000, 5_000], 3, 200
        seconds, concurrent, engine_seconds, runs = 0.5, 2.0, 3, 30
    else:
        sizes, others, other_tickets = [10_000, 100_000, 1_000_000], 50, 1_000
        seconds, concurrent, engine_seconds, runs = 5.0, 15.0, 20, 600
    if args.sizes:
        sizes = [int(size) for size in args.sizes.split(",")]
    began = time.monotonic()
    results = {}
    for size in sizes:
        info = seeded(size, others, other_tickets, reseed=args.reseed)
        print(f"Lists and dashboards at {size:,} tickets ...", flush=True)
        results[size] = measure_lists(info, seconds, concurrent)
    print("Engine and pgbench ...", flush=True)
    engine_table = engine(engine_seconds, runs)
    text = report(sizes, results, engine_table, quick=args.quick)
    STATE.mkdir(parents=True, exist_ok=True)
    (STATE / "report.md").write_text(text)
    print()
    print(text)
    print(f"({time.monotonic() - began:.0f} s; also in {STATE / 'report.md'})")


if __name__ == "__main__":
    main()

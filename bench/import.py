"""History import benchmark: ``import_history`` then ``export_metrics``, each as a whole process,
side by side with jira-agile-metrics' calculators on the same data.

    python bench/import.py                                   # both sizes below, with the peer
    python bench/import.py --databases sqlite --items 25000 --moves 65000
    python bench/import.py --databases postgres --items 100000 --no-peer

For each database and size it:
1. writes a seeded history CSV in the documented format (``key,title,kind,created_at,to_column,
   at``) from ``bench.generate``'s realistic paths (skips, backward moves, reopens). With
   ``--moves``, every item keeps the first rows of its path so that the file has that many rows
   (one row per move, the creation included); without it, whole paths (about 10 rows an item);
2. creates an empty database (SQLite ``bench/out/import.sqlite3``, or the PostgreSQL database
   ``flowboard_bench_import`` on ``BENCH_POSTGRES_URL``'s server) and migrates it (not timed);
3. times ``manage.py import_history`` (which ends with the board's full metrics recompute) and
   ``manage.py export_metrics`` as separate processes, with each one's peak resident memory;
   then times the same import again, which must write nothing;
4. unless ``--no-peer``, times jira-agile-metrics 0.24's CycleTimeCalculator and CFDCalculator on
   the same CSV in their own virtual environment (``bench/peer``), and prints the ratio of
   Flowboard's import plus export, as whole processes, to the peer's calculators alone.

The defaults are the targets of issue 6: 25,000 items and 65,000 moves on SQLite, and 100,000
items with whole paths (about a million moves) on PostgreSQL.
"""

import argparse
import csv
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
PG_DATABASE = "flowboard_bench_import"
SLUG = "imported"
SIZES = {"sqlite": (25_000, 65_000), "postgres": (100_000, None)}
NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)

sys.path.insert(0, str(ROOT))
from bench.generate import COLUMN_NAMES, READY, RELEASED, simulate_paths  # noqa: E402


def write_csv(path: Path, items: int, moves: int | None, seed: int) -> int:
    """The history CSV; returns its number of rows (moves, creations included)."""
    paths = list(simulate_paths(items, seed, 365, NOW))
    total = sum(len(p) for _, _, p in paths)
    keep = 1.0 if moves is None else min(1.0, moves / total)
    rows = 0
    seen = 0  # rows of the whole paths so far
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["key", "title", "kind", "created_at", "to_column", "at"])
        for number, kind, path_moves in paths:
            # Keep the first rows of each path, spreading the rounding over the items, so that
            # the file has (about exactly) ``moves`` rows and every item has its creation.
            seen += len(path_moves)
            count = min(len(path_moves), max(1, round(seen * keep) - rows))
            key = f"H-{number}"
            for index, (position, at) in enumerate(path_moves[:count]):
                when = dt.datetime.fromtimestamp(at, dt.UTC).isoformat()
                if index == 0:
                    title = f"History item {number}"
                    writer.writerow([key, title, kind, when, COLUMN_NAMES[position], when])
                else:
                    writer.writerow([key, "", "", "", COLUMN_NAMES[position], when])
                rows += 1
    return rows


def database(name: str) -> dict[str, str]:
    """A fresh, migrated database; the environment that points the project at it."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    if name == "sqlite":
        target = OUT / "import.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        env["DATABASE_URL"] = f"sqlite:///{target}"
    else:
        import psycopg

        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
            connection.execute(f"CREATE DATABASE {PG_DATABASE}")
        env["DATABASE_URL"] = f"{POSTGRES}/{PG_DATABASE}"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return env


def run_measured(args: list[str], env: dict[str, str]) -> dict:
    """Run ``manage.py args`` as its own process: wall seconds, and its peak resident memory
    (from wait4, so only that process's)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    output = b"".join(iter(lambda: process.stdout.read(65536), b""))
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    errors = process.stderr.read()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{output.decode()}\n{errors.decode()}")
    return {"seconds": seconds, "peak_mib": usage.ru_maxrss / 1024, "stdout": output.decode()}


def import_args(path: Path) -> list[str]:
    return [
        "import_history", "--format", "csv", "--board", SLUG,
        "--columns", ",".join(COLUMN_NAMES),
        "--commitment", COLUMN_NAMES[READY], "--delivery", COLUMN_NAMES[RELEASED],
        str(path),
    ]  # fmt: skip


def summary_figure(stdout: str, label: str) -> int:
    for line in stdout.splitlines():
        if line.strip().startswith(label + ":"):
            return int(line.split(":")[1])
    raise ValueError(f"no {label!r} in the command's output:\n{stdout}")


def peer(path: Path) -> dict | None:
    from bench.peer.venv import ensure_venv

    python = ensure_venv()
    result = subprocess.run(
        [
            str(python),
            str(ROOT / "bench" / "peer" / "run_jam.py"),
            "--csv",
            str(path),
            "--columns",
            ",".join(COLUMN_NAMES),
            "--commitment",
            COLUMN_NAMES[READY],
            "--delivery",
            COLUMN_NAMES[RELEASED],
            "--repeat",
            "1",
        ],  # fmt: skip
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        print(f"jira-agile-metrics failed:\n{result.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--items", type=int, help="items (default: per database, see above)")
    parser.add_argument("--moves", type=int, help="rows of the CSV (default: per database)")
    parser.add_argument("--repeat", type=int, default=1, help="imports timed (median shown)")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--no-peer", action="store_true", help="skip jira-agile-metrics")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)

    for name in args.databases.split(","):
        items, moves = SIZES[name]
        if args.items:
            items, moves = args.items, args.moves
        path = OUT / f"history-{items}-{moves or 'all'}.csv"
        rows = write_csv(path, items, moves, args.seed)
        print(f"\n{name}: {items:,} items, {rows:,} moves in {path.name} "
              f"({path.stat().st_size / 2**20:.1f} MiB)")  # fmt: skip
        runs = []
        for _ in range(args.repeat):
            env = database(name)
            imported = run_measured(import_args(path), env)
            again = run_measured(import_args(path), env)
            exported = run_measured(
                ["export_metrics", "--board", SLUG, "--out", str(OUT / f"export-{name}")], env
            )
            runs.append((imported, again, exported))
        imported = min(runs, key=lambda r: r[0]["seconds"])[0]
        import_s = statistics.median(r[0]["seconds"] for r in runs)
        again_s = statistics.median(r[1]["seconds"] for r in runs)
        export_s = statistics.median(r[2]["seconds"] for r in runs)
        peak = max(max(r[0]["peak_mib"], r[2]["peak_mib"]) for r in runs)
        written = summary_figure(imported["stdout"], "transitions written")
        created = summary_figure(imported["stdout"], "items created")
        skipped = summary_figure(imported["stdout"], "skipped")
        rewritten = summary_figure(runs[0][1]["stdout"], "transitions written")
        print(f"  import_history (recompute included): {import_s:7.2f} s  "
              f"({created:,} items, {written:,} transitions, {skipped} skipped, "
              f"{rows / import_s:,.0f} moves/s)")  # fmt: skip
        print(f"  the same import again:               {again_s:7.2f} s  "
              f"({rewritten} transitions written)")  # fmt: skip
        print(f"  export_metrics:                      {export_s:7.2f} s")
        print(f"  peak memory (largest process):       {peak:7.0f} MiB")
        total = import_s + export_s
        if not args.no_peer:
            result = peer(path)
            if result is not None:
                jam = result["calculators_seconds"]
                print(f"  jira-agile-metrics {result.get('version', '0.24')} "
                      f"CycleTime + CFD calculators alone: {jam:7.2f} s  "
                      f"(cycle time {result['cycletime_seconds']:.2f} s, CFD "
                      f"{result['cfd_seconds']:.2f} s; building its issues, not counted, "
                      f"{result['setup_seconds']:.2f} s)")  # fmt: skip
                print(f"  ratio, Flowboard import + export / jira-agile-metrics calculators: "
                      f"{total / jam:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()

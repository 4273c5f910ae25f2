"""Metrics benchmark: full recompute and single-move refresh, at 100k and 10k items.

    python bench/metrics.py                      # PostgreSQL and SQLite, 100k and 10k items
    python bench/metrics.py --databases postgres --sizes 100000

For each database and size it (1) generates the seeded synthetic board with ``bench.generate``
unless it is already there, (2) runs a full recompute in a fresh process, first "cold" (the
board's snapshots deleted: every row is written) then ``--repeat`` times "warm" (the nightly
steady state: rows whose figures did not change are not rewritten), and reports wall time and
the process's peak resident memory, and (3) moves one in-progress item ``--moves`` times and
reports the time from the move's call to its refreshed snapshot (the item and every daily
series it changes), then the time to refresh the board summary. Warm and move figures are
medians.

PostgreSQL: ``BENCH_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/flowboard_bench``).
SQLite: ``bench/out/bench.sqlite3``.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
POSTGRES = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/flowboard_bench"
)


def database_url(name: str) -> str:
    if name == "postgres":
        return POSTGRES
    return f"sqlite:///{OUT / 'bench.sqlite3'}"


def ensure_postgres_database(url: str) -> None:
    """Create the benchmark's PostgreSQL database on its server if it is not there yet."""
    import psycopg

    server, _, name = url.rpartition("/")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if exists.fetchone() is None:
            connection.execute(f'CREATE DATABASE "{name}"')


def child(database: str, *args: str) -> dict:
    """Run this script's ``--child`` mode in a fresh process against ``database``."""
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL"}}
    env["DATABASE_URL"] = database_url(database)
    env["DJANGO_SETTINGS_MODULE"] = "flowboard.settings"
    result = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.exit(f"child {args} on {database} failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_child(action: str, slug: str, items: int) -> dict:
    import resource

    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.core.management import call_command

    if action == "prepare":
        call_command("migrate", verbosity=0)
        from boards.models import Board

        board = Board.objects.filter(slug=slug).first()
        if board is not None and board.items.count() == items:
            return {"generated": False}
        from bench.generate import generate_board

        started = time.perf_counter()
        generate_board(slug=slug, items=items)
        return {"generated": True, "took": time.perf_counter() - started}

    from boards.models import Board, Transition

    board = Board.objects.get(slug=slug)
    if action == "clear":
        from metrics.models import BoardDay, BoardMetrics, ColumnDay, ItemMetrics

        for model in (ItemMetrics, BoardDay, ColumnDay, BoardMetrics):
            model.objects.filter(board=board).delete()
        return {"cleared": True}
    if action == "recompute":
        from metrics.refresh import recompute_board

        started = time.perf_counter()
        counts = recompute_board(board)
        seconds = time.perf_counter() - started
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        transitions = Transition.objects.filter(board=board).count()
        return {
            "seconds": seconds,
            "peak_mib": peak_kib / 1024,
            "transitions": transitions,
            **counts,
        }
    if action == "move":
        return measure_move(board)
    raise SystemExit(f"unknown action {action}")


def measure_move(board) -> dict:
    """One move, then the refresh of what it changed; the broker is out of the picture (tasks
    are not run on commit here), so the figure is the work itself."""
    from django.utils import timezone

    from boards.models import WorkItem
    from boards.services import work_item_move
    from flowboard.celery import app
    from metrics.refresh import process_pending
    from metrics.summary import refresh_summary

    app.conf.task_always_eager = False  # enqueue to the in-memory broker: nobody consumes it
    app.conf.broker_url = "memory://localhost/"
    columns = list(board.columns.order_by("position"))
    item = (
        WorkItem.objects.filter(
            board=board,
            discarded_at__isnull=True,
            column__position__gte=2,
            column__position__lt=len(columns) - 1,
        )
        .order_by("id")
        .first()
    )
    target = columns[item.column.position + 1]
    process_pending(board.pk)  # start from an empty queue
    started = time.perf_counter()
    work_item_move(item, target, actor=None, source="api", at=timezone.now(), enforce=False)
    moved = time.perf_counter()
    refreshed_items = process_pending(board.pk)
    refreshed = time.perf_counter()
    refresh_summary(board)
    summarised = time.perf_counter()
    return {
        "move_ms": (moved - started) * 1000,
        "refresh_ms": (refreshed - moved) * 1000,
        "move_to_snapshot_ms": (refreshed - started) * 1000,
        "summary_ms": (summarised - refreshed) * 1000,
        "items_refreshed": refreshed_items,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--databases", default="postgres,sqlite")
    parser.add_argument("--sizes", default="100000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--moves", type=int, default=5)
    parser.add_argument("--child", nargs=3, metavar=("ACTION", "SLUG", "ITEMS"))
    args = parser.parse_args()
    if args.child:
        action, slug, items = args.child
        print(json.dumps(run_child(action, slug, int(items))))
        return

    OUT.mkdir(parents=True, exist_ok=True)
    if "postgres" in args.databases.split(","):
        ensure_postgres_database(POSTGRES)
    print(f"{'database':<9} {'items':>7} {'transitions':>11} {'cold s':>7} {'warm s':>7} "
          f"{'peak MiB':>8} {'move->snapshot ms':>17} {'summary ms':>10}")  # fmt: skip
    for database in args.databases.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            slug = f"bench-{size // 1000}k"
            prepared = child(database, "prepare", slug, str(size))
            if prepared["generated"]:
                took = prepared["took"]
                print(f"  generated {slug} on {database} in {took:.1f} s", file=sys.stderr)
            child(database, "clear", slug, str(size))
            cold = child(database, "recompute", slug, str(size))
            runs = [child(database, "recompute", slug, str(size)) for _ in range(args.repeat)]
            moves = [child(database, "move", slug, str(size)) for _ in range(args.moves)]
            warm = statistics.median(r["seconds"] for r in runs)
            peak = max(r["peak_mib"] for r in [cold, *runs])
            move = statistics.median(m["move_to_snapshot_ms"] for m in moves)
            summary = statistics.median(m["summary_ms"] for m in moves)
            line = (
                f"{database:<9} {size:>7} {cold['transitions']:>11} {cold['seconds']:>7.2f} "
                f"{warm:>7.2f} {peak:>8.0f} {move:>17.1f} {summary:>10.0f}"
            )
            print(line, flush=True)


if __name__ == "__main__":
    main()

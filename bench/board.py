"""Board rendering benchmark: the server time of the web board at 20, 500 and 2,000 open cards.

    python bench/board.py                       # SQLite and PostgreSQL
    python bench/board.py --databases sqlite --repeat 20

For each database it creates a fresh database (SQLite ``bench/out/board.sqlite3``, PostgreSQL
``flowboard_bench_board`` on ``BENCH_POSTGRES_URL``'s server), migrates it, and builds three
boards of the standard columns with that many open cards spread over Backlog, Ready, Build and
Review, a tenth of them blocked and a third with a readiness criterion (rows written in bulk).
Then it requests each board's page through Django's whole request cycle (middleware, session,
view, template) in this process, ``--repeat`` times after a warm-up, and prints the median and
95th percentile server time and the number of queries. The target is under 300 ms at 2,000.
"""

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
PG_DATABASE = "flowboard_bench_board"
SIZES = (20, 500, 2000)


def prepare(name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    if name == "sqlite":
        target = OUT / "board.sqlite3"
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


def child(repeat: int) -> None:
    """Run inside Django: build the boards, time their pages, print a line per size."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowboard.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from boards import ranking
    from boards.models import Block, BoardMembership, WorkItem
    from boards.setup import ColumnSpec, board_create
    from readiness.models import AcceptanceCriterion

    settings.ALLOWED_HOSTS = ["*"]
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("bench", password="x" * 12)
    client = Client()
    client.force_login(user)
    now = timezone.now()
    names = ["Backlog", "Ready", "Build", "Review", "Readiness", "Done", "Operating"]
    for size in SIZES:
        board = board_create(
            name=f"Board {size}", slug=f"board-{size}", key_prefix="B",
            columns=[ColumnSpec(n, stage="done" if n in ("Done", "Operating") else
                                "upstream" if n == "Backlog" else "development") for n in names],
            commitment="Ready", delivery="Done",
        )  # fmt: skip
        BoardMembership.objects.create(board=board, user=user, role="member")
        columns = list(board.columns.order_by("position"))[:4]
        ranks = ranking.sequence(size)
        items = WorkItem.objects.bulk_create(
            WorkItem(
                board=board, key=f"B-{n}", title=f"Card number {n} of the benchmark board",
                column=columns[n % 4], rank=ranks[n],
                created_at=now - dt.timedelta(days=n % 30 + 1),
                started_at=now - dt.timedelta(days=n % 20) if n % 4 else None,
                due_date=(now + dt.timedelta(days=n % 9 - 3)).date() if n % 5 == 0 else None,
            )
            for n in range(size)
        )  # fmt: skip
        Block.objects.bulk_create(
            Block(item=i, reason="external", note="Vendor", started_at=now) for i in items[::10]
        )
        gate = board.columns.get(name="Done")
        AcceptanceCriterion.objects.bulk_create(
            AcceptanceCriterion(item=i, title="Docs", track="docs", gate_column=gate)
            for i in items[::3]
        )
        url = f"/boards/{board.slug}/"
        client.get(url)  # warm-up: templates compiled, connection open
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
        times.sort()
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        cards = response.content.decode().count('class="card ')
        print(f"{connection.vendor:<10} {size:>6} {cards:>6} {statistics.median(times):>9.1f} "
              f"{p95:>8.1f} {len(queries):>7}", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args.repeat)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    print(
        f"{'database':<10} {'cards':>6} {'shown':>6} {'median ms':>9} {'p95 ms':>8} {'queries':>7}"
    )
    for name in args.databases.split(","):
        env = prepare(name)
        subprocess.run(
            [sys.executable, __file__, "--child", "--repeat", str(args.repeat)],
            cwd=ROOT,
            env=env,
            check=True,
        )


if __name__ == "__main__":
    main()

"""API benchmark: latency of the item list, a move (with and without an Idempotency-Key) and a
webhook acknowledgement, in-process and through gunicorn on PostgreSQL, and sustained moves per
second with 4 concurrent clients.

    python bench/api.py                          # 5,000 items, 300 requests per figure
    python bench/api.py --items 20000 --requests 500 --moves 4000

It creates its own PostgreSQL database (``flowboard_bench_api`` on ``BENCH_POSTGRES_URL``'s
server) and uses Redis database 12 (``BENCH_REDIS_URL``) as the Celery broker, as production
does: a move enqueues its metrics refresh and a webhook its processing, and no worker runs, so
the figures are the request's own work. It builds a board of the standard columns with
``--items`` open cards (through the services), an integration token and a Jira integration.

1. **In-process**: Django's whole request cycle (middleware, authentication, throttling, view,
   serializer) called in this process, ``--requests`` times per operation after a warm-up.
2. **gunicorn**: ``gunicorn -w 4`` on 127.0.0.1, the same requests over one keep-alive
   connection.
3. **Sustained moves**: ``--workers`` client threads (each with its own connection to the
   gunicorn server) each move one of their own 25 cards, picked at random, a step round
   Ready -> Build -> Review -> Ready. A third of the 100 cards are in Build on average, and
   Build has a hard WIP limit of 36, so it fills up at peaks and a move into it is refused; it
   prints moves/s, the refusals, and checks that Build never held more than its limit: live, by
   sampling its count, and afterwards, by replaying its Transition log.

Targets (issue 9): list p95 < 50 ms, webhook acknowledgement p95 < 30 ms, >= 150 moves/s with
no WIP-limit violation.
"""

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
DATABASE = "flowboard_bench_api"
SECRET = "bench-webhook-secret-0123456789"
BUILD_LIMIT = 36
CARDS_PER_CLIENT = 25  # 100 cards, a third of them in Build on average: the limit binds at peaks
SETUP = OUT / "api-setup.json"


def environment() -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"{POSTGRES}/{DATABASE}",
        "REDIS_URL": REDIS,
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "k" * 50,
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "API_RATE": "1000000/min",
        "LOG_LEVEL": "ERROR",  # a refused move is logged as a warning: not a figure
        "DJANGO_SETTINGS_MODULE": "flowboard.settings",
    }


def prepare() -> dict[str, str]:
    import psycopg
    import redis

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    redis.Redis.from_url(REDIS).flushdb()
    env = environment()
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        subprocess.run(
            [sys.executable, "manage.py", *command, "-v", "0"], cwd=ROOT, env=env, check=True
        )
    return env


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def setup(items: int) -> None:
    """Inside Django: the board, its cards, a token and an integration; written to SETUP."""
    django_setup()
    from django.db import transaction

    from api.services import token_create
    from boards import services
    from boards.models import Column
    from boards.setup import ColumnSpec, board_create
    from integrations.services import integration_create

    stage, activity = Column.Stage, Column.Activity
    standard = [
        ColumnSpec("Backlog", stage.UPSTREAM, activity.WAITING),
        ColumnSpec("Ready", stage.DEVELOPMENT, activity.WAITING),
        ColumnSpec("Build", stage.DEVELOPMENT, activity.ACTIVE),
        ColumnSpec("Review", stage.DEVELOPMENT, activity.WAITING),
        ColumnSpec("Readiness", stage.READINESS, activity.ACTIVE),
        ColumnSpec("Done", stage.DONE, activity.ACTIVE),
        ColumnSpec("Operating", stage.DONE, activity.ACTIVE),
    ]

    started = time.perf_counter()
    board = board_create(
        name="Bench",
        slug="bench",
        key_prefix="BEN",
        columns=standard,
        commitment="Ready",
        delivery="Done",
        time_zone="UTC",
    )
    Column.objects.filter(board=board, name="Build").update(
        wip_limit=BUILD_LIMIT, wip_policy="hard"
    )
    columns = {c.name: c for c in board.columns.all()}
    spread = ["Backlog", "Ready", "Review"]
    with transaction.atomic():
        for number in range(items):
            services.work_item_create(
                board,
                title=f"Card {number}",
                actor=None,
                source="import",
                column=columns[spread[number % 3]],
                enforce=False,
            )
    token, key = token_create(board, name="bench", role="member")
    integration = integration_create(
        board, kind="jira", name="Jira", secret=SECRET, mapping={"In Progress": "Build"}
    )
    ready = list(
        board.items.filter(column=columns["Ready"]).order_by("id").values_list("id", flat=True)
    )
    SETUP.write_text(
        json.dumps(
            {
                "key": key,
                "hook": f"/api/v1/hooks/jira/{integration.public_id}/",
                "ready": ready,
                "build": columns["Build"].pk,
                "columns": {name: column.pk for name, column in columns.items()},
            }
        )
    )
    print(f"set-up: {items} cards in {time.perf_counter() - started:.1f} s", flush=True)


def jira_body(number: int) -> bytes:
    body = json.loads((ROOT / "tests/fixtures/jira/webhook-issue-created.json").read_text())
    body["issue"]["key"] = f"BENCH-{number}"
    return json.dumps(body).encode()


def sign(body: bytes) -> str:
    import hashlib
    import hmac

    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def summary(label: str, where: str, times: list[float], target: float | None = None) -> None:
    times = sorted(times)
    p50 = statistics.median(times) * 1000
    p95 = times[int(len(times) * 0.95) - 1] * 1000
    verdict = ""
    if target is not None:
        verdict = f"  target p95 < {target:.0f} ms: {'met' if p95 < target else 'MISSED'}"
    print(
        f"{where:<11} {label:<22} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms   n={len(times)}{verdict}",
        flush=True,
    )


class Caller:
    """One operation sequence, over Django's test client or an HTTP connection."""

    def __init__(self, data: dict, send, half: int) -> None:
        self.data, self.send = data, send
        self.auth = {"Authorization": f"Token {data['key']}"}
        cards = data["ready"][: -CARDS_PER_CLIENT * 4]  # the last ones: the sustained moves
        self.ready = cards[half::2]  # in-process and gunicorn each move their own cards
        self.state: dict[int, str] = {}

    def list_items(self) -> int:
        return self.send("GET", "/api/v1/boards/bench/items/?page_size=100", None, self.auth)

    def move(self, number: int, keyed: bool = False) -> int:
        # Ready <-> Review, a real move each time and never refused: the move's own cost.
        item = self.ready[number % len(self.ready)]
        to = "Review" if self.state.get(item, "Ready") == "Ready" else "Ready"
        self.state[item] = to
        body = json.dumps({"to_column": to}).encode()
        headers = {**self.auth, "Content-Type": "application/json"}
        if keyed:  # as an integration sends it: the move and its receipt, in one transaction
            headers["Idempotency-Key"] = str(uuid.uuid4())
        return self.send("POST", f"/api/v1/items/{item}/move/", body, headers)

    def hook(self, number: int) -> int:
        body = jira_body(number)
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature": sign(body),
            "X-Atlassian-Webhook-Identifier": str(uuid.uuid4()),
        }
        return self.send("POST", self.data["hook"], body, headers)


def measure(caller: Caller, where: str, requests: int, offset: int) -> None:
    """p50 and p95 of each operation, after 10 warm-up calls."""
    for name, call, expected, target in (
        ("item list (100/page)", lambda n: caller.list_items(), 200, 50),
        ("move", caller.move, 200, None),
        ("move, keyed", lambda n: caller.move(n, keyed=True), 200, None),
        ("webhook ack", caller.hook, 202, 30),
    ):
        times = []
        for n in range(-10, requests):
            started = time.perf_counter()
            status = call(offset + n)
            if n >= 0:
                times.append(time.perf_counter() - started)
            if status != expected:
                raise SystemExit(f"{where} {name}: HTTP {status}, expected {expected}")
        summary(name, where, times, target)


def in_process(requests: int) -> None:
    django_setup()
    from django.test import Client

    client = Client()
    data = json.loads(SETUP.read_text())

    def send(method, path, body, headers):
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        extra.pop("HTTP_CONTENT_TYPE", None)
        if method == "GET":
            return client.get(path, **extra).status_code
        return client.generic(
            method, path, body or b"", content_type=headers.get("Content-Type", ""), **extra
        ).status_code

    measure(Caller(data, send, half=0), "in-process", requests, offset=0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_sender(port: int):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def send(method, path, body, headers):
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status

    return send


def sustained(port: int, data: dict, moves: int, workers: int, env: dict) -> None:
    import psycopg

    ready = data["ready"][-CARDS_PER_CLIENT * workers :]  # not the cards the latency runs moved
    per_worker = [ready[i::workers] for i in range(workers)]
    cycle = ["Build", "Review", "Ready"]
    counts = {"moved": 0, "wip_limit": 0, "other": 0}
    lock = threading.Lock()
    peak = [0]
    stop = threading.Event()

    def monitor():
        with psycopg.connect(env["DATABASE_URL"]) as connection:
            while not stop.is_set():
                (count,) = connection.execute(
                    "SELECT count(*) FROM boards_workitem WHERE column_id = %s "
                    "AND discarded_at IS NULL",
                    [data["build"]],
                ).fetchone()
                peak[0] = max(peak[0], count)
                time.sleep(0.05)

    def work(items: list[int], quota: int):
        send = http_sender(port)
        auth = {"Authorization": f"Token {data['key']}", "Content-Type": "application/json"}
        position = dict.fromkeys(items, 0)
        bodies = {to: json.dumps({"to_column": to}).encode() for to in cycle}
        pick = random.Random(items[0])
        for _ in range(quota):
            item = pick.choice(items)
            to = cycle[position[item] % 3]
            status = send("POST", f"/api/v1/items/{item}/move/", bodies[to], auth)
            with lock:
                if status == 200:
                    counts["moved"] += 1
                    position[item] += 1
                elif status == 409:
                    counts["wip_limit"] += 1
                else:
                    counts["other"] += 1

    watcher = threading.Thread(target=monitor, daemon=True)
    watcher.start()
    threads = [
        threading.Thread(target=work, args=(items, moves // workers)) for items in per_worker
    ]
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    cpu = {name: used - cpu_before[name] for name, used in cpu_seconds().items()}
    stop.set()
    watcher.join()
    replay_peak = replay_build(env["DATABASE_URL"], data["build"])
    rate = counts["moved"] / elapsed
    requests = sum(counts.values()) / elapsed
    print(
        f"sustained   {workers} clients, gunicorn -w 4: {counts['moved']} moves in {elapsed:.1f} s "
        f"= {rate:.0f} moves/s ({requests:.0f} requests/s; {counts['wip_limit']} refused at "
        f"the WIP limit, {counts['other']} other answers)  target >= 150/s: "
        f"{'met' if rate >= 150 else 'MISSED'}",
        flush=True,
    )
    violations = max(0, max(peak[0], replay_peak) - BUILD_LIMIT)
    print(
        f"sustained   Build hard limit {BUILD_LIMIT}: peak {peak[0]} sampled live, "
        f"{replay_peak} replaying the Transition log -> "
        f"{'no WIP-limit violation' if not violations else f'{violations} OVER THE LIMIT'}"
        f"{'' if peak[0] >= BUILD_LIMIT or replay_peak >= BUILD_LIMIT else ' (never full)'}",
        flush=True,
    )
    total = sum(counts.values())
    print(
        f"sustained   CPU per request: gunicorn {cpu['gunicorn'] / total * 1000:.1f} ms, "
        f"PostgreSQL {cpu['postgres'] / total * 1000:.1f} ms, this client "
        f"{cpu['client'] / total * 1000:.1f} ms; {sum(cpu.values()) / elapsed:.2f} of "
        f"{os.cpu_count()} cores busy",
        flush=True,
    )
    if counts["other"] or violations:
        raise SystemExit("sustained moves: unexpected answers or a WIP-limit violation")


def cpu_seconds() -> dict[str, float]:
    """CPU time used so far by gunicorn, PostgreSQL and this process (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = {"gunicorn": 0.0, "postgres": 0.0, "client": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used = (int(fields[11]) + int(fields[12])) / tick
        if int(entry.name) == os.getpid():
            totals["client"] += used
        elif "gunicorn" in command:
            totals["gunicorn"] += used
        elif command.startswith("postgres"):
            totals["postgres"] += used
    return totals


def replay_build(url: str, build: int) -> int:
    """The most cards Build ever held, replaying its entries and exits in log order."""
    import psycopg

    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT from_column_id, to_column_id FROM boards_transition "
            "WHERE from_column_id = %s OR to_column_id = %s ORDER BY id",
            [build, build],
        ).fetchall()
    count = peak = 0
    for source, target in rows:
        count += (target == build) - (source == build)
        peak = max(peak, count)
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--moves", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--child", choices=["setup", "in-process"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "setup":
        return setup(args.items)
    if args.child == "in-process":
        return in_process(args.requests)

    OUT.mkdir(exist_ok=True)
    env = prepare()
    me = [sys.executable, str(Path(__file__).resolve())]
    subprocess.run([*me, "--child", "setup", "--items", str(args.items)], env=env, check=True)
    subprocess.run([*me, "--child", "in-process", "--requests", str(args.requests)], env=env,
                   check=True)  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "flowboard.wsgi:application", "-w", "4",
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", "--keep-alive", "30"],
        cwd=ROOT, env=env, stderr=open(OUT / "api-gunicorn.log", "w"),  # noqa: SIM115
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if http_sender(port)("GET", "/healthz", None, {}) == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        data = json.loads(SETUP.read_text())
        measure(Caller(data, http_sender(port), half=1), "gunicorn", args.requests, offset=10**6)
        sustained(port, data, args.moves, args.workers, env)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()

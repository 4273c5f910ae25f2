"""Shared fixtures: a standard board, its columns by name, and three named users."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection

from boards.models import BoardMembership
from tests.factories import BoardFactory, MembershipFactory, UserFactory

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def board(db):
    return BoardFactory()


@pytest.fixture
def col(board):
    """The board's columns by name: ``col["Build"]``."""
    return {c.name: c for c in board.columns.all()}


@pytest.fixture
def ops_lead(board):
    user = UserFactory(username="olivia-ops")
    MembershipFactory(board=board, user=user, role=BoardMembership.Role.OPS_LEAD)
    return user


@pytest.fixture
def member(board):
    user = UserFactory(username="max-member")
    MembershipFactory(board=board, user=user, role=BoardMembership.Role.MEMBER)
    return user


@pytest.fixture
def outsider(db):
    return UserFactory(username="oscar-outsider")


def needs_postgres():
    return pytest.mark.skipif(
        "postgres" not in os.environ.get("DATABASE_URL", ""),
        reason="needs PostgreSQL: set DATABASE_URL",
    )


def needs_redis():
    return pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis: set REDIS_URL")


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI's real-server pass, a skipped real-server test is a failure, not a quiet skip; and
    so is a skipped browser test in CI's browser pass."""
    outcome = yield
    report = outcome.get_result()
    if not report.skipped:
        return
    servers = os.environ.get("FLOWBOARD_REQUIRE_REAL_SERVERS") == "1"
    browser = os.environ.get("FLOWBOARD_REQUIRE_E2E") == "1"
    if servers and item.get_closest_marker("realservers"):
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid}: skipped in a run that requires real servers"
    elif browser and item.get_closest_marker("e2e"):
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid}: skipped in a run that requires the browser tests"


def _test_database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(postgres_only, settings):
    """Start real Celery workers (``worker()``, ``worker("prefork", SETTING="1")``) on the test
    database and Redis; they are stopped, and their log printed, at the end of the test."""
    from flowboard.celery import app

    if not settings.REDIS_URL:
        pytest.skip("needs Redis: set REDIS_URL")
    assert not settings.CELERY_TASK_ALWAYS_EAGER
    settings.METRICS_DEBOUNCE_SECONDS = 1
    cache.clear()
    app.control.purge()
    log = open(ROOT / f".worker-{uuid.uuid4().hex[:8]}.log", "w+")  # noqa: SIM115

    def start(pool: str = "solo", **env: str) -> subprocess.Popen:
        env = {**os.environ, "DATABASE_URL": _test_database_url(), **env}
        command = [sys.executable, "-m", "celery", "-A", "flowboard", "worker", "-P", pool]
        command += ["-c", "1", "-l", "info", "--without-gossip", "--without-mingle"]
        command += ["-n", f"test-{uuid.uuid4().hex[:6]}@%h"]
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    processes: list[subprocess.Popen] = []

    def started(*args, **kwargs) -> subprocess.Popen:
        processes.append(start(*args, **kwargs))
        return processes[-1]

    yield started
    for process in processes:
        process.terminate()
        process.wait(timeout=20)
    log.seek(0)
    print(log.read())
    log.close()
    os.unlink(log.name)

"""Settings from the environment: production refuses insecure defaults and names the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD = {
    "FLOWBOARD_ENV": "production",
    "DEBUG": "0",
    "SECRET_KEY": "k" * 50,
    "ALLOWED_HOSTS": "flowboard.example.com",
}


def _load_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {*GOOD, "DATABASE_URL", "REDIS_URL"}}
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'], settings.CELERY_TASK_ALWAYS_EAGER)"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "DJANGO_SETTINGS_MODULE": "flowboard.settings", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


# (change to a good production environment, the variable the error must name)
REFUSALS = [
    pytest.param({"SECRET_KEY": None}, "SECRET_KEY", id="missing secret key"),
    pytest.param({"SECRET_KEY": "short"}, "SECRET_KEY", id="weak secret key"),
    pytest.param({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS", id="missing allowed hosts"),
    pytest.param({"DEBUG": "1"}, "DEBUG", id="debug on"),
    pytest.param({"DEBUG": None}, None, id="debug defaults to off in production"),
    pytest.param({"DEBUG": "maybe"}, "DEBUG", id="debug not a boolean"),
    pytest.param({"FLOWBOARD_ENV": "prod"}, "FLOWBOARD_ENV", id="unknown environment"),
]


@pytest.mark.parametrize(("change", "named"), REFUSALS)
def test_production_refuses_insecure_settings(change, named):
    env = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    result = _load_settings(env)
    if named is None:
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr.strip().splitlines()[-1]


def test_the_embedded_default_needs_no_server():
    result = _load_settings({})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["flowboard.sqlite", "True"]


def test_database_and_redis_urls_switch_to_real_servers():
    result = _load_settings(
        {"DATABASE_URL": "postgres://u:p@db.internal:5432/fb", "REDIS_URL": "redis://r:6379/3"}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "False"]

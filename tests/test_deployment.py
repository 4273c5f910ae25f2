"""docker-compose.yml: parsed, and the commands it runs run here (there is no Docker engine)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
PRODUCTION = {
    "FLOWBOARD_ENV": "production",
    "DEBUG": "0",
    "SECRET_KEY": "s" * 50,
    "ALLOWED_HOSTS": "flowboard.example.com",
    "DJANGO_SETTINGS_MODULE": "flowboard.settings",
}


def test_compose_has_every_service_with_a_healthcheck():
    services = COMPOSE["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "beat"}
    for name, service in services.items():
        assert "healthcheck" in service, name
        assert service["healthcheck"]["test"], name


def test_app_services_wait_for_healthy_databases_and_run_in_production_mode():
    for name in ("web", "worker", "beat"):
        service = COMPOSE["services"][name]
        assert service["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
        env = service["environment"]
        assert env["FLOWBOARD_ENV"] == "production" and env["DEBUG"] == "0"
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://")
        assert "?" in env["SECRET_KEY"]  # required: compose refuses to start without it


def _run(command: list[str]) -> subprocess.CompletedProcess:
    unset = {"DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}  # the harness, not prod
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        command, cwd=ROOT, env={**clean, **PRODUCTION}, capture_output=True, text=True, timeout=120
    )


def test_the_web_command_loads_under_gunicorn():
    command = [sys.executable, "-m", "gunicorn", "--check-config", "flowboard.wsgi:application"]
    result = _run(command)
    assert result.returncode == 0, result.stderr


def test_the_worker_and_beat_commands_find_the_app_and_the_schedule():
    code = (
        "from flowboard.celery import app; app.loader.import_default_modules(); "
        "print(sorted(app.tasks)); print(app.conf.beat_schedule)"
    )
    result = _run([sys.executable, "-c", code])
    assert result.returncode == 0, result.stderr
    assert "metrics.tasks.refresh_board" in result.stdout
    assert "metrics.tasks.recompute_all_boards" in result.stdout


def test_deploy_checks_pass_in_production_mode():
    result = _run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_healthz_reports_the_database(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json()["database"] == "ok"

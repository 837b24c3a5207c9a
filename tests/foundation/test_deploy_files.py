"""docker-compose.yml and the Dockerfile, checked without a Docker engine: the
compose file against the Compose specification's JSON schema (vendored from
Debian's docker-compose package), and with Debian's `docker-compose config`.
Starting the services as written is in tests/operations/test_compose_services.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SECRETS = {"POSTGRES_PASSWORD": "pw", "REDIS_PASSWORD": "pw", "SECRET_KEY": "k" * 60}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_is_valid_against_the_compose_spec(compose):
    schema = json.loads((ROOT / "tests" / "reference" / "compose_spec.json").read_text())
    jsonschema.Draft201909Validator(schema).validate(compose)


def test_compose_services_join_the_external_network_with_healthchecks(compose):
    assert compose["networks"]["af-network"]["external"] is True
    services = compose["services"]
    assert {"web", "worker", "beat"} <= set(services)
    for name in ("web", "worker", "beat"):
        service = services[name]
        assert service["networks"] == ["af-network"]
        assert "healthcheck" in service and service["healthcheck"]["test"]
        assert "storage:/opt/services/media-analysis/storage" in service["volumes"]
        env = service["environment"]
        assert env["DATABASE_URL"].endswith("@af-postgres-1:5432/af-memory")
        assert env["REDIS_URL"] == "redis://af-redis-1:6379/0"
        # Passwords travel on their own, never inside a URL (no encoding by hand).
        assert env["DATABASE_PASSWORD"] == "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
        assert env["REDIS_PASSWORD"] == "${REDIS_PASSWORD:?set REDIS_PASSWORD}"
    # The plain worker command: every queue, plain connections by default under Celery.
    assert "-Q" not in services["worker"]["command"]
    assert "DB_POOL" not in services["worker"]["environment"]


def test_compose_holds_no_secret_values(compose):
    text = COMPOSE.read_text()
    for variable in SECRETS:
        assert "${" + variable + ":?" in text  # required from the environment, never defaulted


def test_docker_compose_config_accepts_the_file():
    assert shutil.which("docker-compose"), "Debian's docker-compose (dev.py test installs it)"
    env = {**os.environ, **SECRETS}
    result = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    missing = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config", "--quiet"],
        env={k: v for k, v in env.items() if k != "POSTGRES_PASSWORD"},
        capture_output=True,
        text=True,
    )
    assert missing.returncode != 0
    assert "POSTGRES_PASSWORD" in missing.stderr


def test_dockerfile_runs_as_a_non_root_user_with_a_healthcheck():
    text = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in text
    assert "\nUSER app\n" in text
    assert "HEALTHCHECK" in text
    assert "requirements-embedded" not in text  # production uses real servers

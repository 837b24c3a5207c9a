"""docker-compose.yml runs as written: every service started with its rendered
command and environment (see ``compose.py`` for what is mapped and why), on a
PostgreSQL role and database named as the compose file names them and a Redis
that wants the rendered password.

``migrate`` exits 0; ``web`` answers /health/ready with 200 and passes its own
healthcheck; ``worker`` completes an analysis submitted through ``web`` and
answers its healthcheck's ping; ``beat`` stays up and passes its healthcheck.
Every line each of them writes is JSON (``LOG_FORMAT: json`` in the file).

The ``scale`` profile's ``worker-heavy`` and ``worker-light`` render to the
commands README.md and docs/deployment.md give (the ones
tests/operations/test_queues.py starts), with healthchecks that ping them by
their node names.

With ``docker-compose.s3.yml`` on top, every service is on the s3 backend with a
storage volume of its own; SeaweedFS runs on the identity config the rendered
``seaweedfs`` entrypoint writes, ``migrate`` creates the bucket, and ``web``,
``worker-heavy`` and ``worker-light`` complete an image and a video without
leaving a file in any storage folder."""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError
from django.db import connection

from media_analysis.embedded import RedisServer, free_port
from tests.conftest import ROOT, server_connection, wait_until
from tests.operations.compose import (
    BUNDLED_OBJECT_STORE,
    S3_OVERRIDE_FILE,
    STORAGE_VOLUME,
    HostMapping,
    build_step,
    render,
)
from tests.operations.stack import (
    HEAVY_WORKER_FLAGS,
    LIGHT_WORKER_FLAGS,
    WORKER_COMMAND,
    Process,
    submit_upload,
)
from tests.storage.seaweed import SeaweedServer

pytestmark = pytest.mark.slow

# Passwords with the characters a URL would need encoded: compose hands them over
# as DATABASE_PASSWORD / REDIS_PASSWORD, taken as they are.
SECRETS = {
    "POSTGRES_PASSWORD": "compose@pw:/%x",
    "REDIS_PASSWORD": "redis@pw:/%x",
    "SECRET_KEY": "s" * 60,
}
ROLE, DATABASE = "n8n", "compose_af_memory"


@pytest.fixture
def compose_servers(tmp_path, db):
    """The rendered role (n8n, with its password) owning an empty database, and a
    Redis that insists on the rendered password."""
    with server_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'DROP ROLE IF EXISTS "{ROLE}"')
        conn.execute(f"CREATE ROLE \"{ROLE}\" LOGIN PASSWORD '{SECRETS['POSTGRES_PASSWORD']}'")
        conn.execute(f'CREATE DATABASE "{DATABASE}" OWNER "{ROLE}"')
    redis = RedisServer(
        tmp_path / "redis", port=free_port(), password=SECRETS["REDIS_PASSWORD"]
    ).start()
    yield redis
    redis.stop()
    with server_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'DROP ROLE IF EXISTS "{ROLE}"')


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_the_compose_services_run_as_written(tmp_path, compose_servers, image):
    compose = render(SECRETS)
    services = compose["services"]
    db = connection.settings_dict
    mapping = HostMapping(
        folder=tmp_path,
        postgres_host=db["HOST"] or "127.0.0.1",
        postgres_port=str(db["PORT"] or ""),
        database=DATABASE,
        redis_port=compose_servers.port,
        web_port=free_port(),
    )
    # What the image has: /tmp (but no /tmp/prometheus), the app's home, and the
    # storage folder its RUN step creates (the volume is mounted over it).
    for folder in ("tmp", "app", "storage"):
        (tmp_path / folder).mkdir()
    env = {name: mapping.environment(service) for name, service in services.items()}
    env["web"]["GUNICORN_BIND"] = f"127.0.0.1:{mapping.web_port}"  # the published port
    env["worker"]["HOSTNAME"] = socket.gethostname()  # what a container's shell has

    # The image's build step, then the one-shot migrate service.
    build_env, build_command = build_step("collectstatic")
    built = _run(build_command, {**mapping.environment(None), **build_env})
    assert built.returncode == 0, built.stderr
    migrate = _run(mapping.command(services["migrate"]["command"]), env["migrate"])
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr

    # `docker compose run web python manage.py ...` before the server ever started:
    # the metrics folder (PROMETHEUS_MULTIPROC_DIR) does not exist yet.
    made = _run(["python", "manage.py", "create_api_token", "compose-user"], env["web"])
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()

    processes = {
        name: Process(name, mapping.command(services[name]["command"]), env[name], tmp_path / name)
        for name in ("web", "worker", "beat")
    }
    try:
        for process in processes.values():
            process.start()
        web_url = f"http://127.0.0.1:{mapping.web_port}"
        ready = wait_until(lambda: _get(f"{web_url}/health/ready"), 60, "web to be ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["level"] == "available", ready.json()
        processes["worker"].wait_for_line(" ready.")

        # An analysis through web, completed by worker.
        with httpx.Client(
            base_url=web_url, headers={"Authorization": f"Token {token}"}, timeout=30
        ) as api:
            response = submit_upload(api, image)
            assert response.status_code == 202, response.text
            status_url = f"/api/media/status/{response.json()['id']}"
            done = wait_until(
                lambda: api.get(status_url).json()["status"] in ("completed", "failed"),
                90,
                "the worker to complete the analysis",
            )
            assert done and api.get(status_url).json()["status"] == "completed"

        # Each service's own healthcheck, as Docker would run it.
        time.sleep(2)
        for name in ("web", "worker", "beat"):
            check = _run(mapping.healthcheck(services[name]), env[name])
            assert check.returncode == 0, (name, check.stdout, check.stderr)
            assert processes[name].alive(), processes[name].text()[-3000:]
    finally:
        for process in processes.values():
            if process.alive():
                process.terminate(timeout=60)

    for process in processes.values():
        assert process.json_lines(), f"{process.name} wrote nothing"


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5)
    except httpx.HTTPError:
        return None


def test_the_scale_profile_runs_the_documented_pools():
    services = render(SECRETS)["services"]
    docs = (ROOT / "README.md").read_text() + (ROOT / "docs" / "deployment.md").read_text()
    for name, flags, node in (
        ("worker-heavy", HEAVY_WORKER_FLAGS, "heavy"),
        ("worker-light", LIGHT_WORKER_FLAGS, "light"),
    ):
        service = services[name]
        assert service["command"] == [*WORKER_COMMAND, *flags]
        for document in ("README.md", "docs/deployment.md"):
            text = (ROOT / document).read_text()
            assert " ".join(service["command"]) in text, (document, name)
        assert service["profiles"] == ["scale"]
        assert f"inspect ping -d {node}@$$HOSTNAME" in service["healthcheck"]["test"][1]
        # The rest as the plain worker: image, environment, storage, grace period.
        for key in ("image", "environment", "volumes", "networks", "stop_grace_period"):
            assert service[key] == services["worker"][key], (name, key)
    assert "--scale worker=0" in docs
    # The default profile is unchanged: one plain worker on every queue.
    assert "profiles" not in services["worker"]
    assert "-Q" not in services["worker"]["command"]


# The object store override: secrets with characters JSON and shells care about.
S3_SECRETS = {
    **SECRETS,
    "AWS_ACCESS_KEY_ID": "media-analysis-compose",
    "AWS_SECRET_ACCESS_KEY": 'se"cr\\et $x/+=',
}
S3_SERVICES = ("migrate", "web", "worker", "worker-heavy", "worker-light", "beat")
POOLS = ("web", "worker-heavy", "worker-light")
S3_COMMAND = (
    "docker compose -p media-analysis -f docker-compose.yml -f docker-compose.s3.yml "
    "--profile scale up -d --build --scale worker=0 --scale worker-heavy=2 --scale worker-light=2"
)


def test_the_s3_override_runs_web_and_both_pools_on_the_object_store(
    tmp_path, compose_servers, image, video
):
    """docker-compose.yml + docker-compose.s3.yml: every service on the s3 backend
    without the shared storage volume; SeaweedFS started on the identity config
    the seaweedfs service's entrypoint writes (its rendered ports would clash
    here, so the test's harness runs weed); migrate creates the bucket; web,
    worker-heavy and worker-light, each with a storage folder of its own, complete
    an uploaded image and video, the contact sheet comes through the 302, and no
    storage folder keeps a file."""
    bucket = f"compose-{uuid.uuid4().hex[:12]}"
    services = render({**S3_SECRETS, "AWS_STORAGE_BUCKET_NAME": bucket}, S3_OVERRIDE_FILE)[
        "services"
    ]
    base = render(SECRETS)["services"]
    for name in S3_SERVICES:
        service = services[name]
        assert service["environment"]["MEDIA_ANALYSIS_STORAGE_BACKEND"] == "s3", name
        assert service["environment"]["AWS_S3_ENDPOINT_URL"] == BUNDLED_OBJECT_STORE, name
        assert STORAGE_VOLUME in service["volumes"], name  # a volume of its own...
        assert not [v for v in service["volumes"] if v.startswith("storage:")], name  # not shared
    for name in ("worker-heavy", "worker-light"):
        assert services[name]["command"] == base[name]["command"]
        assert services[name]["profiles"] == ["scale"]
    for document in ("README.md", "docs/deployment.md"):
        text = " ".join((ROOT / document).read_text().replace("\\\n", " ").split())
        assert S3_COMMAND in text, document

    seaweed = _seaweed_from_the_rendered_service(services["seaweedfs"], tmp_path)
    try:
        _run_the_pools(services, tmp_path, compose_servers, seaweed, bucket, image, video)
    finally:
        seaweed.stop()


def _seaweed_from_the_rendered_service(service: dict, tmp_path: Path) -> SeaweedServer:
    """The entrypoint as rendered (writing /tmp/s3.json), then weed on that file."""
    container = tmp_path / "seaweedfs-container"  # its /tmp is its own
    (container / "tmp").mkdir(parents=True)
    mapping = HostMapping(container, "", "", "", 0, 0)
    written = _run([*mapping.command(service["entrypoint"]), "true"], mapping.environment(service))
    assert written.returncode == 0, written.stderr
    (flag,) = [word for word in service["command"] if word.startswith("-s3.config=")]
    config = Path(mapping.path(flag.removeprefix("-s3.config=")))
    assert config.stat().st_mode & 0o077 == 0  # the owner's only
    (identity,) = json.loads(config.read_text())["identities"]
    assert identity["credentials"] == [
        {
            "accessKey": S3_SECRETS["AWS_ACCESS_KEY_ID"],
            "secretKey": S3_SECRETS["AWS_SECRET_ACCESS_KEY"],
        }
    ]
    seaweed = SeaweedServer(
        tmp_path / "seaweed",
        access_key=S3_SECRETS["AWS_ACCESS_KEY_ID"],
        secret_key=S3_SECRETS["AWS_SECRET_ACCESS_KEY"],
        identity_config=config,
    ).start()  # answers requests signed with the rendered keys
    wrong = dataclasses.replace(seaweed, secret_key="wrong")
    with pytest.raises(ClientError):
        wrong.client().list_buckets()
    return seaweed


def _run_the_pools(services, tmp_path, redis, seaweed, bucket, image, video) -> None:
    db = connection.settings_dict
    mapping = HostMapping(
        folder=tmp_path,
        postgres_host=db["HOST"] or "127.0.0.1",
        postgres_port=str(db["PORT"] or ""),
        database=DATABASE,
        redis_port=redis.port,
        web_port=free_port(),
        object_store_url=seaweed.endpoint_url,
    )
    (tmp_path / "tmp").mkdir()
    (tmp_path / "app").mkdir()
    roots = {name: tmp_path / f"storage-{name}" for name in ("migrate", *POOLS)}
    env = {}
    for name, root in roots.items():
        root.mkdir()  # the image's folder, under the container's own volume
        own = dataclasses.replace(mapping, storage=root)
        env[name] = own.environment(services[name])
        assert env[name]["MEDIA_ANALYSIS_STORAGE_ROOT"] == str(root)
    env["web"]["GUNICORN_BIND"] = f"127.0.0.1:{mapping.web_port}"

    build_env, build_command = build_step("collectstatic")
    built = _run(build_command, {**mapping.environment(None), **build_env})
    assert built.returncode == 0, built.stderr
    migrate = _run(mapping.command(services["migrate"]["command"]), env["migrate"])
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    assert f"bucket {bucket} created" in migrate.stdout
    seaweed.client().head_bucket(Bucket=bucket)
    made = _run(["python", "manage.py", "create_api_token", "compose-user"], env["web"])
    assert made.returncode == 0, made.stderr

    processes = {
        name: Process(name, mapping.command(services[name]["command"]), env[name], tmp_path / name)
        for name in POOLS
    }
    try:
        for process in processes.values():
            process.start()
        web_url = f"http://127.0.0.1:{mapping.web_port}"
        wait_until(lambda: _get(f"{web_url}/health/ready"), 60, "web to be ready")
        for name in ("worker-heavy", "worker-light"):
            processes[name].wait_for_line(" ready.")
        with httpx.Client(
            base_url=web_url, headers={"Authorization": f"Token {made.stdout.strip()}"}, timeout=30
        ) as api:
            _analyse_and_fetch(api, image, video)
    finally:
        for process in processes.values():
            if process.alive():
                process.terminate(timeout=60)

    logs = {name: process.text() for name, process in processes.items()}
    assert "analysis task finished" in logs["worker-heavy"], logs["worker-heavy"][-3000:]
    assert "analysis task finished" in logs["worker-light"], logs["worker-light"][-3000:]
    keys = [entry["Key"] for entry in seaweed.client().list_objects_v2(Bucket=bucket)["Contents"]]
    for category in ("uploads/", "frames/", "contact-sheets/"):
        assert any(key.startswith(category) for key in keys), (category, keys)
    for name, root in roots.items():
        kept = [path.relative_to(root) for path in root.rglob("*") if path.is_file()]
        assert kept == [], (name, kept)  # temp/ included: emptied after each run
    for process in processes.values():
        assert process.json_lines(), f"{process.name} wrote nothing"


def _analyse_and_fetch(api: httpx.Client, image: Path, video: Path) -> None:
    ids = []
    for path in (image, video):
        response = submit_upload(api, path)
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])

    def statuses() -> list[str]:
        return [api.get(f"/api/media/status/{request_id}").json()["status"] for request_id in ids]

    wait_until(lambda: set(statuses()) <= {"completed", "failed"}, 180, "the image and the video")
    assert statuses() == ["completed", "completed"]
    sheet = api.get(
        f"/api/media/{ids[1]}/contact-sheet",
        headers={"Accept": "image/jpeg"},
        follow_redirects=False,
    )
    assert sheet.status_code == 302, sheet.text
    body = httpx.get(sheet.headers["Location"], timeout=30)  # signed: no token
    assert body.status_code == 200
    assert body.content.startswith(b"\xff\xd8")  # a JPEG

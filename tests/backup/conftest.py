"""Fixtures for the backup tests: real media analysed end to end on the test
database, storage roots and empty databases of their own, and the commands run
as an operator types them (``manage.py backup|verify_backup|restore`` as child
processes with the test's environment)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection

from analysis.pipeline import run_analysis
from tests.api.conftest import Caller, make_caller
from tests.conftest import database_url, run_manage, server_connection
from tests.processing.media_factory import make_image, make_text_pdf, make_video


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("backup-media")
    return {
        "video": make_video(folder / "clip.mp4", seconds=3.0),
        "image": make_image(folder / "photo.jpg", size=(640, 360)),
        "document": make_text_pdf(
            folder / "invoice.pdf", ["Invoice 2026-0042", "Total due: 1,234.56 EUR"]
        ),
    }


@pytest.fixture
def alice(transactional_db) -> Caller:
    return make_caller("alice")


def submit_and_analyse(caller: Caller, path: Path, prompt: str = "What is this?") -> str:
    """Upload through the API (so the audit trail has the caller), then analyse it
    in-process through the real pipeline."""
    with path.open("rb") as handle:
        response = caller.client.post(
            "/api/media/analyze", {"file": handle, "prompt": prompt}, format="multipart"
        )
    assert response.status_code == 202, response.content
    request_id = response.json()["id"]
    assert run_analysis(request_id) == "completed"
    return request_id


@pytest.fixture
def analysed(storage_root, alice, media) -> dict[str, str]:
    """A video, an image and a document, each analysed end to end: request id by kind."""
    return {kind: submit_and_analyse(alice, path) for kind, path in media.items()}


def current_database() -> str:
    return connection.settings_dict["NAME"]


def env_for(database: str, storage: Path, **extra: str) -> dict[str, str]:
    """The environment an operator's shell has: the database and storage root to use."""
    return {
        "DATABASE_URL": database_url(database),
        "MEDIA_ANALYSIS_STORAGE_ROOT": str(storage),
        "LOG_FORMAT": "text",
        **extra,
    }


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return run_manage(*args, env=env, check=False)


@dataclass
class Databases:
    """Empty databases on the test server, dropped afterwards."""

    names: list[str]

    def create(self, suffix: str) -> str:
        name = f"{current_database()}_{suffix}"
        with server_connection() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        self.names.append(name)
        return name

    def drop(self, name: str) -> None:
        with server_connection() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def databases():
    made = Databases([])
    yield made
    for name in made.names:
        made.drop(name)


def query(database: str, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows from ``database`` over a connection of its own."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    with psycopg.connect(
        dbname=database,
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        autocommit=True,
    ) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def table_names(database: str) -> set[str]:
    rows = query(database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {name for (name,) in rows}


def read_summary(set_dir: Path) -> dict:
    first = (set_dir / "manifest.json").open(encoding="utf-8").readline()
    return json.loads(first[len('{"manifest": ') :].rstrip("\n")[:-1])


def manifest_files(set_dir: Path) -> dict[str, dict]:
    data = json.loads((set_dir / "manifest.json").read_text(encoding="utf-8"))
    return {entry["path"]: entry for entry in data["files"]}


def files_under(root: Path) -> dict[str, bytes]:
    """Every regular file under ``root`` (relative path -> bytes), temp/ and the lock
    file left out: what a set must hold."""
    found = {}
    for current, _folders, names in os.walk(root):
        relative_folder = Path(current).relative_to(root)
        if relative_folder.parts[:1] == ("temp",):
            continue
        for name in names:
            relative = (relative_folder / name).as_posix()
            if relative == ".cleanup.lock" or name.startswith(".tmp-"):
                continue
            found[relative] = (Path(current) / name).read_bytes()
    return found

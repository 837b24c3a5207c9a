"""Secrets the way secret stores hand them over (issue 16): a bare password in
DATABASE_PASSWORD / REDIS_PASSWORD (any characters, no URL-encoding), or any
secret from a file named by <NAME>_FILE (Docker and Kubernetes secrets). Used
against a PostgreSQL and a Redis that insist on the password."""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured

from media_analysis.embedded import RedisServer, free_port
from media_analysis.env import env_secret, url_with_password
from tests.api.fault_servers import OwnPostgres
from tests.conftest import run_manage

HARD = "p@ss:w/rd% with spaces#?&="  # every character a URL would need encoded
REDIS_HARD = "r3d@is:/% with spaces#?&="


@pytest.fixture
def secret_file(tmp_path):
    def write(content: str, name: str = "secret") -> str:
        path = tmp_path / name
        path.write_text(content)
        return str(path)

    return write


# ---------------------------------------------------------------- the reader
def test_a_secret_comes_from_its_variable_or_its_file(monkeypatch, secret_file):
    monkeypatch.setenv("SOME_TOKEN", HARD)
    assert env_secret("SOME_TOKEN") == HARD

    monkeypatch.delenv("SOME_TOKEN")
    monkeypatch.setenv("SOME_TOKEN_FILE", secret_file(HARD + "\n"))
    assert env_secret("SOME_TOKEN") == HARD  # the trailing newline is not part of it

    monkeypatch.setenv("SOME_TOKEN_FILE", secret_file(" two lines \nend\n\n"))
    assert env_secret("SOME_TOKEN") == " two lines \nend\n"  # only one newline goes

    monkeypatch.delenv("SOME_TOKEN_FILE")
    assert env_secret("SOME_TOKEN", "fallback") == "fallback"
    with pytest.raises(ImproperlyConfigured, match=r"SOME_TOKEN \(or SOME_TOKEN_FILE\)"):
        env_secret("SOME_TOKEN", required=True)


def test_a_secret_given_both_ways_is_refused_naming_both(monkeypatch, secret_file):
    monkeypatch.setenv("SOME_TOKEN", "direct-value")
    monkeypatch.setenv("SOME_TOKEN_FILE", secret_file("file-value"))
    with pytest.raises(ImproperlyConfigured) as refused:
        env_secret("SOME_TOKEN")
    message = str(refused.value)
    assert "SOME_TOKEN and SOME_TOKEN_FILE are both set" in message
    assert "direct-value" not in message and "file-value" not in message


@pytest.mark.parametrize("content", [None, "", "\n"])
def test_a_missing_or_empty_secret_file_is_refused_without_echoing(
    monkeypatch, secret_file, tmp_path, content
):
    path = str(tmp_path / "absent") if content is None else secret_file(content)
    monkeypatch.setenv("SOME_TOKEN_FILE", path)
    with pytest.raises(ImproperlyConfigured, match="SOME_TOKEN_FILE="):
        env_secret("SOME_TOKEN")


def test_a_password_replaces_the_urls_own_encoded_once():
    for url in (
        "redis://redis.internal:6379/0",
        "redis://:old@redis.internal:6379/0",
        "redis://user:old@redis.internal:6379/2",
    ):
        parts = urlsplit(url_with_password(url, HARD))
        assert unquote(parts.password) == HARD
        assert (parts.hostname, parts.port, parts.path) == ("redis.internal", 6379, url[-2:])
        assert (parts.username or "") == (urlsplit(url).username or "")
    assert url_with_password("redis://h:1/0", None) == "redis://h:1/0"


# ----------------------------------------------------- real servers, real processes
@pytest.fixture
def guarded_postgres():
    """A PostgreSQL of its own where role ``keeper`` must give its password (SCRAM)."""
    server = OwnPostgres(database="guarded")
    pg = server._server
    escaped = HARD.replace("'", "''")
    pg.psql(f"CREATE ROLE keeper LOGIN PASSWORD '{escaped}'")
    pg.psql("GRANT ALL ON DATABASE guarded TO keeper; ALTER DATABASE guarded OWNER TO keeper")
    hba = Path(pg.pgdata) / "pg_hba.conf"
    hba.write_text("local all keeper scram-sha-256\n" + hba.read_text())
    pg.psql("SELECT pg_reload_conf()")
    socket_dir = unquote(urlsplit(server.url).query.partition("host=")[2].split("&")[0])
    yield f"postgresql://keeper@/guarded?host={socket_dir}"
    server.cleanup()


@pytest.fixture
def guarded_redis(tmp_path):
    server = RedisServer(tmp_path / "redis", port=free_port(), password=REDIS_HARD).start()
    yield f"redis://127.0.0.1:{server.port}/0"
    server.stop()


CHECK = (
    "from django.core.cache import cache; from django.db import connection; "
    "cache.set('secret-check', 1); connection.ensure_connection(); "
    "print('connected', cache.get('secret-check'))"
)


def test_bare_passwords_reach_real_servers_that_require_them(
    guarded_postgres, guarded_redis, secret_file
):
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(guarded_postgres.replace("keeper@", "keeper:wrong@"), connect_timeout=5)
    base = {"DATABASE_URL": guarded_postgres, "REDIS_URL": guarded_redis, "DB_POOL": "false"}

    direct = run_manage(
        "shell",
        "-c",
        CHECK,
        env={**base, "DATABASE_PASSWORD": HARD, "REDIS_PASSWORD": REDIS_HARD},
    )
    assert "connected 1" in direct.stdout

    from_files = run_manage(
        "shell",
        "-c",
        CHECK,
        env={
            **base,
            "DATABASE_PASSWORD_FILE": secret_file(HARD + "\n", "db"),
            "REDIS_PASSWORD_FILE": secret_file(REDIS_HARD + "\n", "redis_password"),
        },
    )
    assert "connected 1" in from_files.stdout

    refused = run_manage(
        "shell", "-c", CHECK, env={**base, "REDIS_PASSWORD": REDIS_HARD}, check=False
    )
    assert refused.returncode != 0 and HARD not in refused.stderr + refused.stdout


def test_the_secret_key_and_provider_keys_come_from_files(secret_file):
    key = "k" * 40 + "/+=@ secret key from a file"
    show = (
        "import hashlib; from django.conf import settings as s; "
        "print(hashlib.sha256(s.SECRET_KEY.encode()).hexdigest(), s.OPENAI_API_KEY == 'sk-file', "
        "s.METRICS_TOKEN == 'metrics-file')"
    )
    env = {
        "DEBUG": "false",
        "ALLOWED_HOSTS": "localhost",
        "SECRET_KEY_FILE": secret_file(key + "\n", "secret_key"),
        "OPENAI_API_KEY_FILE": secret_file("sk-file\n", "openai"),
        "METRICS_TOKEN_FILE": secret_file("metrics-file", "metrics"),
    }
    # The suite's own SECRET_KEY blanked: an empty variable counts as unset.
    result = run_manage("shell", "-c", show, env={**env, "SECRET_KEY": ""})
    assert result.stdout.splitlines()[-1].split() == [
        hashlib.sha256(key.encode()).hexdigest(),
        "True",
        "True",
    ]


def test_a_secret_set_both_ways_stops_the_start_naming_both(secret_file):
    result = run_manage(
        "check",
        env={"REDIS_PASSWORD": "direct-pw", "REDIS_PASSWORD_FILE": secret_file("file-pw")},
        check=False,
    )
    assert result.returncode != 0
    assert "REDIS_PASSWORD and REDIS_PASSWORD_FILE are both set" in result.stderr
    assert "direct-pw" not in result.stderr and "file-pw" not in result.stderr

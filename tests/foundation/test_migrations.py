"""Migrations: from an empty database up, each app back to zero, and up again."""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import database_url, run_manage, server_connection

PLAN_TABLES = {
    "media_analysis_requests",
    "media_analysis_results",
    "media_files",
    "contact_sheets",
    "audit_log",
}


def _tables_and_types(name: str) -> tuple[set[str], set[str]]:
    with server_connection() as admin:
        conninfo = psycopg.conninfo.make_conninfo(admin.info.dsn, dbname=name)
    with psycopg.connect(conninfo) as conn:
        tables = {
            r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
        types = {r[0] for r in conn.execute("SELECT typname FROM pg_type WHERE typtype = 'e'")}
    return tables, types


@pytest.mark.slow
def test_migrate_from_empty_then_to_zero_and_back(scratch_database):
    env = {"DATABASE_URL": database_url(scratch_database), "DB_POOL": "false"}
    run_manage("migrate", "--noinput", env=env)
    tables, types = _tables_and_types(scratch_database)
    assert PLAN_TABLES <= tables
    assert {"media_analysis_status", "media_type_enum"} <= types

    for app in ("storage_app", "audit", "analysis"):
        run_manage("migrate", app, "zero", "--noinput", env=env)
    tables, types = _tables_and_types(scratch_database)
    assert PLAN_TABLES & tables == set()
    assert {"media_analysis_status", "media_type_enum"} & types == set()

    run_manage("migrate", "--noinput", env=env)
    tables, _ = _tables_and_types(scratch_database)
    assert PLAN_TABLES <= tables


def test_models_and_migrations_agree():
    result = run_manage("makemigrations", "--check", "--dry-run", check=False)
    assert result.returncode == 0, result.stdout + result.stderr

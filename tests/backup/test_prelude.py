"""The set's prelude creates what ``pg_dump -t`` leaves out, extensions included:
the history search's trigram indexes use pg_trgm's operator class, and a restore
into a new database fails without it (found on a server with pg_trgm, where the
migration creates those indexes)."""

from __future__ import annotations

import pytest
from django.db import connection

from storage_app.backup import dump

pytestmark = pytest.mark.django_db


def _installed_extensions() -> set[str]:
    """What the migrations installed (pg_trgm, btree_gin where the server offers
    them): each is there for an index of the project's tables."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'")
        return {name for (name,) in cursor.fetchall()}


def test_the_prelude_creates_the_extensions_the_tables_use_and_no_others():
    with dump.connect() as conn:
        tables = dump.existing_tables(conn, dump.project_table_names())
        sql, _types, _functions = dump.prelude(conn, tables)
    creates = [line for line in sql.splitlines() if line.startswith("CREATE EXTENSION")]
    assert creates == [
        f'CREATE EXTENSION IF NOT EXISTS "{name}" WITH SCHEMA "public";'
        for name in sorted(_installed_extensions())
    ]
    assert 'EXTENSION IF NOT EXISTS "plpgsql"' not in sql

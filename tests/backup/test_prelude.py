"""The set's prelude creates what ``pg_dump -t`` leaves out, extensions included:
the history search's trigram indexes use pg_trgm's operator class, and a restore
into a new database fails without it (found on a server with pg_trgm, where the
migration creates those indexes)."""

from __future__ import annotations

import pytest
from django.db import connection

from storage_app.backup import dump

pytestmark = pytest.mark.django_db


def _trigram_indexes() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE indexname LIKE '%%_trgm'")
        return cursor.fetchone()[0]


def test_the_prelude_creates_the_extensions_the_tables_use_and_no_others():
    with dump.connect() as conn:
        tables = dump.existing_tables(conn, dump.project_table_names())
        sql, _types, _functions = dump.prelude(conn, tables)
    creates = [line for line in sql.splitlines() if line.startswith("CREATE EXTENSION")]
    if _trigram_indexes():
        assert creates == ['CREATE EXTENSION IF NOT EXISTS "pg_trgm" WITH SCHEMA "public";']
    else:  # a server without pg_trgm: the migration made no trigram index
        assert creates == []
    assert "EXTENSION IF NOT EXISTS \"plpgsql\"" not in sql

"""The migrated schema matches the plan's DDL (docs/reference/plan_schema.sql),
compared from PostgreSQL's own catalog: load the reference into a schema of its
own, read both back, and compare columns, types, nullability, defaults, enum
types, constraints and indexes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.db import connection

REFERENCE_SQL = Path(__file__).resolve().parents[2] / "docs" / "reference" / "plan_schema.sql"
REFERENCE_SCHEMA = "plan_reference"
PLAN_TABLES = [
    "media_analysis_requests",
    "media_analysis_results",
    "media_files",
    "contact_sheets",
    "audit_log",
]

pytestmark = pytest.mark.django_db


def _normalise(text: str | None) -> str | None:
    if text is None:
        return None
    return re.sub(rf"\b(?:{REFERENCE_SCHEMA}|public)\.", "", text)


def _fetch(cursor, sql: str, schema: str) -> list[tuple]:
    cursor.execute(sql, {"schema": schema, "tables": PLAN_TABLES})
    return [
        tuple(_normalise(v) if isinstance(v, str) else v for v in row) for row in cursor.fetchall()
    ]


COLUMNS_SQL = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = %(schema)s AND c.relname = ANY(%(tables)s) AND a.attnum > 0
  AND NOT a.attisdropped
"""

CONSTRAINTS_SQL = """
SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid)
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relname = ANY(%(tables)s)
"""

INDEXES_SQL = """
SELECT tablename, indexname, regexp_replace(indexdef, ' ON \\S+ ', ' ON ')
FROM pg_indexes WHERE schemaname = %(schema)s AND tablename = ANY(%(tables)s)
"""

ENUMS_SQL = """
SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)
FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = %(schema)s GROUP BY t.typname
"""


@pytest.fixture
def catalogs():
    """(actual, reference) catalog rows; the reference schema is rolled back with the test."""
    sql = REFERENCE_SQL.read_text()
    # gen_random_uuid() is core PostgreSQL since 13; the embedded server has no pgcrypto.
    sql = re.sub(r"CREATE EXTENSION[^;]*;", "", sql)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {REFERENCE_SCHEMA}")
        cursor.execute(f"SET LOCAL search_path TO {REFERENCE_SCHEMA}")
        cursor.execute(sql)
        cursor.execute("SET LOCAL search_path TO public")
        result = {}
        for name, query in {
            "columns": COLUMNS_SQL,
            "constraints": CONSTRAINTS_SQL,
            "indexes": INDEXES_SQL,
            "enums": ENUMS_SQL,
        }.items():
            result[name] = (
                _fetch(cursor, query, "public"),
                _fetch(cursor, query, REFERENCE_SCHEMA),
            )
    return result


def test_reference_was_loaded(catalogs):
    _, reference = catalogs["columns"]
    assert {row[0] for row in reference} == set(PLAN_TABLES)
    assert len(reference) == 18 + 13 + 13 + 11 + 9


def test_every_plan_column_has_the_same_type_nullability_and_default(catalogs):
    actual, reference = catalogs["columns"]
    actual_by_name = {(row[0], row[1]): row for row in actual}
    mismatches = [
        (ref, actual_by_name.get(ref[:2]))
        for ref in reference
        if actual_by_name.get(ref[:2]) != ref
    ]
    assert mismatches == []


def test_extra_columns_never_break_a_plain_sql_insert(catalogs):
    """Columns beyond the plan must be nullable or defaulted, or another service
    inserting the plan's columns by hand would fail."""
    actual, reference = catalogs["columns"]
    plan_columns = {row[:2] for row in reference}
    extras = [row for row in actual if row[:2] not in plan_columns]
    assert [row for row in extras if row[3] and row[4] is None] == []


def test_enum_types_have_the_plan_values_in_order(catalogs):
    actual, reference = catalogs["enums"]
    assert sorted(reference) == sorted(actual)
    assert dict(actual)["media_analysis_status"] == [
        "pending",
        "processing",
        "completed",
        "failed",
        "cancelled",
        "deleted",
    ]


def test_constraints_match_including_on_delete_rules(catalogs):
    actual, reference = catalogs["constraints"]
    missing = set(reference) - set(actual)
    assert missing == set()
    on_delete = {row[1]: row[3] for row in actual if row[2] == "f"}
    assert on_delete["media_analysis_results_request_id_fkey"].endswith("ON DELETE CASCADE")
    assert on_delete["contact_sheets_request_id_fkey"].endswith("ON DELETE CASCADE")
    assert on_delete["media_files_request_id_fkey"].endswith("ON DELETE SET NULL")


def test_every_plan_index_exists_with_the_same_definition(catalogs):
    actual, reference = catalogs["indexes"]
    missing = set(reference) - set(actual)
    assert missing == set()
    partial = {row[1]: row[2] for row in actual}
    assert partial["idx_requests_deleted"].endswith("WHERE (deleted_at IS NULL)")
    assert partial["idx_files_expires"].endswith("WHERE (expires_at IS NOT NULL)")

"""The database side of a set: the project's tables, dumped in one snapshot.

"The project's tables" are the tables of every installed app's models (ours,
Django's auth / contenttypes / sessions / admin, the API tokens) plus
``django_migrations``: what a restored service needs to run, log in and know its
schema is current. Nothing else in the database is read, so a database shared
with other services (``af-memory``) is backed up only for our part.

``pg_dump -t`` dumps tables with their indexes, constraints, triggers and
sequences, but not the enum types and trigger functions they depend on. Those are
read from the catalog, in the same snapshot, into ``prelude.sql``, which a
restore runs first. One REPEATABLE READ transaction exports its snapshot; the row
counts, the applied migrations, the prelude, the list of live file rows and
``pg_dump --snapshot`` all see that one instant.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from django.apps import apps
from django.conf import settings
from psycopg import sql

from storage_app.backup.pgtools import PgTools, conninfo, environment
from storage_app.models import ContactSheet, MediaFile

# pg_dump waits this long for a table lock (a migration running), then fails.
LOCK_WAIT_TIMEOUT = "600s"


class DumpError(RuntimeError):
    """pg_dump (or the snapshot around it) failed; the message has its stderr."""


@dataclass(frozen=True)
class Table:
    schema: str
    name: str

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def identifier(self) -> sql.Composable:
        return sql.Identifier(self.schema, self.name)

    def dump_pattern(self) -> str:
        """A ``pg_dump -t`` pattern matching exactly this table (quoted: no wildcards,
        case kept)."""
        schema, name = (part.replace('"', '""') for part in (self.schema, self.name))
        return f'"{schema}"."{name}"'


@dataclass(frozen=True)
class SnapshotFacts:
    """What the snapshot said, for the manifest."""

    server_version: str
    tables: dict[str, int]  # qualified name -> rows
    migrations: dict[str, list[str]]
    enum_types: list[str]
    functions: list[str]
    schema: str
    live_rows: int


def project_table_names() -> list[str]:
    names = {"django_migrations"}
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.managed and not meta.proxy:
            names.add(meta.db_table)
    return sorted(names)


def connect(**kwargs) -> psycopg.Connection:
    """A connection of its own (not Django's: it holds a long transaction)."""
    password = settings.DATABASES["default"].get("PASSWORD") or None
    return psycopg.connect(conninfo(), password=password, **kwargs)


def existing_tables(conn: psycopg.Connection, names: list[str]) -> list[Table]:
    """The project's tables that exist, as the search path resolves them."""
    rows = conn.execute(
        """
        SELECT n.nspname, c.relname
        FROM unnest(%s::text[]) AS wanted(name)
        JOIN pg_class c ON c.oid = to_regclass(quote_ident(wanted.name))
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p')
        ORDER BY c.relname
        """,
        (names,),
    ).fetchall()
    return [Table(schema, name) for schema, name in rows]


@contextmanager
def snapshot(conn: psycopg.Connection) -> Iterator[str]:
    """A read-only REPEATABLE READ transaction; yields its exported snapshot id.
    pg_dump started with ``--snapshot`` inside the block sees the same data."""
    conn.autocommit = True
    # The transaction sits idle while pg_dump runs: no server timeout may end it.
    conn.execute("SET idle_in_transaction_session_timeout = 0")
    conn.execute("SET statement_timeout = 0")
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    with conn.transaction():
        yield conn.execute("SELECT pg_export_snapshot()").fetchone()[0]


def count_rows(conn: psycopg.Connection, tables: list[Table]) -> dict[str, int]:
    counts = {}
    for table in tables:
        query = sql.SQL("SELECT count(*) FROM {}").format(table.identifier)
        counts[table.qualified] = conn.execute(query).fetchone()[0]
    return counts


def applied_migrations(conn: psycopg.Connection) -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app, name in conn.execute("SELECT app, name FROM django_migrations ORDER BY app, id"):
        applied.setdefault(app, []).append(name)
    return applied


def prelude(conn: psycopg.Connection, tables: list[Table]) -> tuple[str, list[str], list[str]]:
    """SQL creating the enum types and functions ``tables`` depend on (columns,
    defaults, constraints, indexes, triggers), and their names. Objects of
    extensions and of ``pg_catalog`` are left out."""
    oids = [f"{_quote(t.schema)}.{_quote(t.name)}" for t in tables]
    types = conn.execute(_ENUM_TYPES, (oids,)).fetchall()
    functions = conn.execute(_FUNCTIONS, (oids, oids, oids, oids)).fetchall()
    extensions = conn.execute(_EXTENSIONS, (oids, oids, oids, oids)).fetchall()
    schemas = sorted({t.schema for t in tables} - {"public"})
    lines = [
        "-- Extensions, enum types and functions the project's tables need "
        "(pg_dump -t leaves them out)."
    ]
    lines += [f"CREATE SCHEMA IF NOT EXISTS {_quote(s)};" for s in schemas]
    # The trigram indexes' operator class is pg_trgm's: without the extension the
    # restore of those indexes fails. Only extensions the tables use are named, not
    # every one a shared database has.
    lines += [
        f"CREATE EXTENSION IF NOT EXISTS {_quote(name)} WITH SCHEMA {_quote(schema)};"
        for name, schema in extensions
    ]
    for schema, name, labels in types:
        values = ", ".join(_literal(label) for label in labels)
        lines.append(f"CREATE TYPE {_quote(schema)}.{_quote(name)} AS ENUM ({values});")
    for _identity, definition in functions:
        lines.append(definition.rstrip().rstrip(";") + ";")
    type_names = [f"{_quote(s)}.{_quote(n)}" for s, n, _ in types]
    return "\n".join(lines) + "\n", type_names, [identity for identity, _ in functions]


def write_live_rows(conn: psycopg.Connection, path: Path) -> int:
    """Every live media_files / contact_sheets row as ``[relative path, checksum]``,
    one per line, sorted by path in byte order; returns how many."""
    root = f"{settings.STORAGE_ROOT}/"
    query = sql.SQL(_LIVE_ROWS).format(
        files=sql.Identifier(MediaFile._meta.db_table),
        sheets=sql.Identifier(ContactSheet._meta.db_table),
    )
    count = 0
    with path.open("w", encoding="utf-8") as out, conn.cursor(name="live_rows") as cursor:
        cursor.itersize = 2000
        cursor.execute(query, {"root": root, "after": len(root) + 1})
        for relative, checksum in cursor:
            out.write(json.dumps([relative, checksum]) + "\n")
            count += 1
    return count


def iter_live_rows(path: Path) -> Iterator[tuple[str, str | None]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            relative, checksum = json.loads(line)
            yield relative, checksum


def run_pg_dump(tools: PgTools, snapshot_id: str, tables: list[Table], output: Path) -> None:
    """``pg_dump -Fc`` of ``tables`` as of ``snapshot_id`` into ``output``."""
    argv = [
        tools.path("pg_dump"),
        "--format=custom",
        f"--snapshot={snapshot_id}",
        f"--lock-wait-timeout={LOCK_WAIT_TIMEOUT}",
        "--strict-names",
        "--no-password",
        f"--file={output}",
        f"--dbname={conninfo()}",
    ]
    for table in tables:
        argv.append(f"--table={table.dump_pattern()}")
    result = subprocess.run(argv, env=environment(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DumpError(f"pg_dump exited with {result.returncode}: {result.stderr.strip()[-2000:]}")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_ENUM_TYPES = """
SELECT DISTINCT n.nspname, t.typname,
       array(SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
FROM pg_attribute a
JOIN pg_type col ON col.oid = a.atttypid
JOIN pg_type t ON t.oid = CASE WHEN col.typelem <> 0 AND col.typlen = -1 THEN col.typelem ELSE col.oid END
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE a.attrelid = ANY(%s::regclass[]) AND a.attnum > 0 AND NOT a.attisdropped
  AND t.typtype = 'e'
  AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_type'::regclass
                  AND x.objid = t.oid AND x.deptype = 'e')
ORDER BY 1, 2
"""

# Extensions owning something the tables use: a column's type, an index's operator
# class or function, a default's or a constraint's function.
_EXTENSIONS = """
SELECT DISTINCT e.extname, n.nspname
FROM pg_depend d
JOIN pg_depend member ON member.classid = d.refclassid AND member.objid = d.refobjid
     AND member.refclassid = 'pg_extension'::regclass AND member.deptype = 'e'
JOIN pg_extension e ON e.oid = member.refobjid
JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE (d.classid = 'pg_class'::regclass AND d.objid = ANY(%s::regclass[]))
   OR (d.classid = 'pg_class'::regclass AND d.objid IN
        (SELECT indexrelid FROM pg_index WHERE indrelid = ANY(%s::regclass[])))
   OR (d.classid = 'pg_attrdef'::regclass AND d.objid IN
        (SELECT oid FROM pg_attrdef WHERE adrelid = ANY(%s::regclass[])))
   OR (d.classid = 'pg_constraint'::regclass AND d.objid IN
        (SELECT oid FROM pg_constraint WHERE conrelid = ANY(%s::regclass[])))
ORDER BY 1
"""

# Functions referenced by the tables' triggers, column defaults, constraints and
# indexes (pg_depend), outside pg_catalog and not owned by an extension.
_FUNCTIONS = """
SELECT DISTINCT format('%%I.%%I(%%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
       pg_get_functiondef(p.oid)
FROM pg_depend d
JOIN pg_proc p ON d.refclassid = 'pg_proc'::regclass AND p.oid = d.refobjid
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_proc'::regclass
                  AND x.objid = p.oid AND x.deptype = 'e')
  AND (
    (d.classid = 'pg_trigger'::regclass AND d.objid IN
        (SELECT oid FROM pg_trigger WHERE tgrelid = ANY(%s::regclass[]) AND NOT tgisinternal))
    OR (d.classid = 'pg_attrdef'::regclass AND d.objid IN
        (SELECT oid FROM pg_attrdef WHERE adrelid = ANY(%s::regclass[])))
    OR (d.classid = 'pg_constraint'::regclass AND d.objid IN
        (SELECT oid FROM pg_constraint WHERE conrelid = ANY(%s::regclass[])))
    OR (d.classid = 'pg_class'::regclass AND d.objid IN
        (SELECT indexrelid FROM pg_index WHERE indrelid = ANY(%s::regclass[])))
  )
ORDER BY 1
"""

# Rows without a relative path count by their absolute path under the root.
_LIVE_ROWS = """
SELECT path, checksum FROM (
    SELECT CASE WHEN coalesce(relative_path, '') <> '' THEN relative_path
                WHEN left(storage_path, length(%(root)s)) = %(root)s THEN substr(storage_path, %(after)s)
                ELSE storage_path END AS path,
           checksum
    FROM {files} WHERE deleted_at IS NULL
    UNION ALL
    SELECT CASE WHEN coalesce(relative_path, '') <> '' THEN relative_path
                WHEN left(storage_path, length(%(root)s)) = %(root)s THEN substr(storage_path, %(after)s)
                ELSE storage_path END,
           checksum
    FROM {sheets} WHERE metadata IS NULL OR NOT (metadata ? 'deleted_at')
) AS live
ORDER BY path COLLATE "C"
"""

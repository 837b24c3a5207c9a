"""The history's full-text search (issue 14): a ``search_vector`` tsvector on the
requests and GIN indexes on the visible ones' (``analysis/search_document.py``
fills it and says why it is no field of the model; Django's model state does not
know it, hence SQL).

Adding a nullable column without a default changes no row (instant at any size);
the indexes are built CONCURRENTLY, so a live table keeps taking writes, hence
``atomic = False``. ``fastupdate = off``: a search reads the index alone, not also
a pending list of recent changes scanned row by row (a write costs a little more).

Two indexes: the words alone (the staff-wide history), and the owner first, then
the words (a caller's own history: a rare word's matches of one owner, 1,400-2,200
at a million requests, found in the index in 4 ms; without it PostgreSQL read the
matches of every owner and ANDed in the owner's btree, 30-120 ms). The second
needs the btree_gin extension (PostgreSQL's contrib, trusted: the database's
owner may create it); a server without it gets the first only, and the search
still works, reading more rows. Once btree_gin is there, ``migrate analysis 0008``
then ``migrate`` builds it.

Existing rows are not filled here: ``python manage.py index_history_search`` does it
in batches of their own transactions, while the service runs (a million requests
take minutes; a migration would hold the deployment that long, in one run that
cannot resume). Until then, rows written before are found by ``search=`` only.
"""

import sys

import django.db
from django.db import migrations

COLUMN = "ALTER TABLE media_analysis_requests ADD COLUMN IF NOT EXISTS search_vector tsvector"
INDEX = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_requests_search_vector"
    " ON media_analysis_requests USING gin (search_vector) WITH (fastupdate = off)"
    " WHERE deleted_at IS NULL"
)
OWNER_INDEX = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_requests_owner_search_vector"
    " ON media_analysis_requests USING gin (owner_id, search_vector) WITH (fastupdate = off)"
    " WHERE deleted_at IS NULL"
)


def btree_gin_unavailable(connection) -> str | None:
    """Why this server cannot have the owner-first index, or None when it can
    (btree_gin is then created, if it was not there yet)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'btree_gin'")
        if cursor.fetchone() is None:
            return "this PostgreSQL server does not offer the btree_gin extension"
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        except django.db.Error as error:  # not ours to create: no permission
            return str(error).strip()
    return None


def add_owner_index(apps, schema_editor) -> None:
    reason = btree_gin_unavailable(schema_editor.connection)
    if reason is not None:
        sys.stderr.write(
            f"  No owner-first index for the history's full-text search ({reason}):"
            " see analysis/migrations/0011_history_fulltext.py.\n"
        )
        return
    schema_editor.execute(OWNER_INDEX)


def drop_owner_index(apps, schema_editor) -> None:
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS idx_requests_owner_search_vector")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("analysis", "0010_budgets"),
    ]

    operations = [
        migrations.RunSQL(
            COLUMN, "ALTER TABLE media_analysis_requests DROP COLUMN IF EXISTS search_vector"
        ),
        migrations.RunSQL(INDEX, "DROP INDEX CONCURRENTLY IF EXISTS idx_requests_search_vector"),
        migrations.RunPython(add_owner_index, drop_owner_index),
    ]

"""The history's orderings and search at a million requests (issue 12): an index per
ordering, per owner and staff-wide, with the primary key last (it replaces
idx_requests_owner_created, dropped once its successor exists), and trigram
indexes for the search.

Built CONCURRENTLY, so a live table keeps taking writes while they build (minutes
at millions of rows); that cannot run in a transaction, hence ``atomic = False``.

The trigram indexes need the pg_trgm extension (PostgreSQL's contrib; trusted
since PostgreSQL 13, so the database's owner may create it). A server without it
(the embedded one of ``dev.py``), or a user who may not create it, gets no
trigram indexes: the migration says so, and the search still works, by reading
rows. Once pg_trgm is there, ``python manage.py migrate analysis 0004`` then
``migrate`` builds them.
"""

import sys

import django.contrib.postgres.indexes
import django.db
import django.db.models.functions.text
from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models

TRIGRAM_INDEXES = [
    django.contrib.postgres.indexes.GinIndex(
        django.contrib.postgres.indexes.OpClass(
            django.db.models.functions.text.Upper(field), name="gin_trgm_ops"
        ),
        name=name,
    )
    for field, name in (
        ("prompt", "idx_requests_prompt_trgm"),
        ("original_filename", "idx_requests_filename_trgm"),
    )
]


def trigram_unavailable(connection) -> str | None:
    """Why this server cannot have the trigram indexes, or None when it can (pg_trgm
    is then created, if it was not there yet)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        if cursor.fetchone() is None:
            return "this PostgreSQL server does not offer the pg_trgm extension"
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except django.db.Error as error:  # not ours to create: no permission
            return str(error).strip()
    return None


def add_trigram_indexes(apps, schema_editor) -> None:
    reason = trigram_unavailable(schema_editor.connection)
    if reason is not None:
        sys.stderr.write(
            f"  No trigram indexes for the history's search ({reason}): the search reads"
            " rows instead. See analysis/migrations/0005_history_orderings_and_search.py.\n"
        )
        return
    model = apps.get_model("analysis", "AnalysisRequest")
    for index in TRIGRAM_INDEXES:
        schema_editor.add_index(model, index, concurrently=True)


def drop_trigram_indexes(apps, schema_editor) -> None:
    for index in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {index.name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("analysis", "0004_recovery_and_outbox"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="analysisrequest",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["owner", "created_at", "id"],
                name="idx_requests_owner_created_id",
            ),
        ),
        AddIndexConcurrently(
            model_name="analysisrequest",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["created_at", "id"],
                name="idx_requests_created_id",
            ),
        ),
        AddIndexConcurrently(
            model_name="analysisrequest",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["owner", "completed_at", "id"],
                name="idx_requests_owner_completed",
            ),
        ),
        AddIndexConcurrently(
            model_name="analysisrequest",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["completed_at", "id"],
                name="idx_requests_completed",
            ),
        ),
        AddIndexConcurrently(
            model_name="analysisrequest",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["owner", "latency_ms", "id"],
                name="idx_requests_owner_latency",
            ),
        ),
        AddIndexConcurrently(
            model_name="analysisrequest",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["latency_ms", "id"],
                name="idx_requests_latency",
            ),
        ),
        AddIndexConcurrently(
            model_name="analysisrequest",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["owner", "status", "id"],
                name="idx_requests_owner_status_id",
            ),
        ),
        AddIndexConcurrently(
            model_name="analysisrequest",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["status", "id"],
                name="idx_requests_status_id",
            ),
        ),
        AddIndexConcurrently(
            model_name="analysisrequest",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["owner", "retry_count", "id"],
                name="idx_requests_owner_retries",
            ),
        ),
        AddIndexConcurrently(
            model_name="analysisrequest",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["retry_count", "id"],
                name="idx_requests_retries",
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(model_name="analysisrequest", index=index)
                for index in TRIGRAM_INDEXES
            ],
            database_operations=[
                migrations.RunPython(add_trigram_indexes, drop_trigram_indexes, elidable=False)
            ],
        ),
        RemoveIndexConcurrently(
            model_name="analysisrequest",
            name="idx_requests_owner_created",
        ),
    ]

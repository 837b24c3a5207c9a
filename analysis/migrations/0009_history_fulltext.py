"""The history's full-text search (issue 14): a ``search_vector`` tsvector on the
requests and a GIN index on the visible ones' (``analysis/search_document.py``
fills it and says why it is no field of the model; Django's model state does not
know it, hence RunSQL).

Adding a nullable column without a default changes no row (instant at any size);
the index is built CONCURRENTLY, so a live table keeps taking writes, hence
``atomic = False``. ``fastupdate = off``: a search reads the index alone, not also
a pending list of recent changes scanned row by row (a write costs a little more).

Existing rows are not filled here: ``python manage.py index_history_search`` does it
in batches of their own transactions, while the service runs (a million requests
take minutes; a migration would hold the deployment that long, in one run that
cannot resume). Until then, rows written before are found by ``search=`` only.
"""

from django.db import migrations

COLUMN = "ALTER TABLE media_analysis_requests ADD COLUMN IF NOT EXISTS search_vector tsvector"
INDEX = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_requests_search_vector"
    " ON media_analysis_requests USING gin (search_vector) WITH (fastupdate = off)"
    " WHERE deleted_at IS NULL"
)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("analysis", "0008_history_media_type_index"),
    ]

    operations = [
        migrations.RunSQL(
            COLUMN, "ALTER TABLE media_analysis_requests DROP COLUMN IF EXISTS search_vector"
        ),
        migrations.RunSQL(INDEX, "DROP INDEX CONCURRENTLY IF EXISTS idx_requests_search_vector"),
    ]

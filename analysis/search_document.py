"""The history's full-text search document: what ``GET /api/media/history?q=`` finds
(issue 14), kept in ``media_analysis_requests.search_vector`` (a ``tsvector``, with
GIN indexes on the visible rows: the words, and the owner then the words; migration
0009).

The column is not a field of the model on purpose: a request is loaded in many
places (the status, the pipeline, the admin) and none of them needs its words, so
no query but the history's search reads it. This module is the only one that
writes or reads it.

What is indexed, by weight (``ts_rank_cd`` ranks an A match above a B match...):

- A: the prompt and the uploaded file's name (split at dots, dashes and
  underscores, so ``harbour_tour.mp4`` is found by ``harbour``);
- B: the results' text (one result, but for a request answered again), newest
  first;
- C: the transcript (``metadata.transcript.text``) and the text OCR read
  (``metadata.facts.ocr.readings[].text``).

PostgreSQL builds the document from the row itself (``to_tsvector`` and
``setweight`` with the ``HISTORY_SEARCH_LANGUAGE`` configuration), so the rule is
one SQL expression, used when a request is created (``transitions.announce_created``),
in the transaction that records its result (``pipeline._record``) and by
``manage.py index_history_search`` (rows written before the column existed, or
after the language changed). Each part is cut at ``MAX_PART_CHARS``: a tsvector
holds at most 1 MB, and an hour of transcript must not fail the record step.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVectorField
from django.db import connection, transaction
from django.db.models import Expression, QuerySet

TABLE = "media_analysis_requests"
COLUMN = "search_vector"
INDEX = "idx_requests_search_vector"  # GIN, WHERE deleted_at IS NULL (migration 0011)
# Characters of each part (prompt and file name; result; transcript and OCR). The
# worst text for a tsvector (short words, all different) takes about 4 bytes per
# character: three parts of 50,000 stay well under its 1 MB.
MAX_PART_CHARS = 50_000

_READINGS = "r.metadata #> '{facts,ocr,readings}'"
_DOCUMENT = f"""
    setweight(to_tsvector(%(language)s::regconfig, left(concat_ws(' ', r.prompt,
        regexp_replace(r.original_filename, '[._-]+', ' ', 'g')), %(cap)s)), 'A')
    || setweight(to_tsvector(%(language)s::regconfig, left(coalesce((
        SELECT string_agg(s.result_text, ' ' ORDER BY s.created_at DESC)
        FROM media_analysis_results s WHERE s.request_id = r.id), ''), %(cap)s)), 'B')
    || setweight(to_tsvector(%(language)s::regconfig, left(concat_ws(' ',
        r.metadata #>> '{{transcript,text}}',
        (SELECT string_agg(reading ->> 'text', ' ')
         FROM jsonb_array_elements(CASE WHEN jsonb_typeof({_READINGS}) = 'array'
                                        THEN {_READINGS} END) AS reading)), %(cap)s)), 'C')
"""  # noqa: S608 (constants only; the values are bound parameters)


def language() -> str:
    """The text search configuration (``english``, ``simple``, ``german``...)."""
    return settings.HISTORY_SEARCH_LANGUAGE


def _parameters(**more) -> dict:
    return {"language": language(), "cap": MAX_PART_CHARS, **more}


# ------------------------------------------------------------------- writing
def refresh(request_id: uuid.UUID | str) -> None:
    """Rebuild one request's document from its row and its results. Call it in
    the transaction that changed them, so the search never sees one without the
    other."""
    sql = f"UPDATE {TABLE} r SET {COLUMN} = {_DOCUMENT} WHERE r.id = %(id)s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, _parameters(id=request_id))


def index_batches(*, batch_size: int = 5000, everything: bool = False) -> Iterator[int]:
    """Fill the documents of requests without one (``everything``: rebuild every one
    that differs, after a language change), about ``batch_size`` rows per
    transaction, so a live table keeps taking writes. Yields how many rows each
    batch wrote.

    Batches go through the table in its physical order (ranges of pages, a TID
    range scan), not by key: ids are random UUIDs, and a batch by key read and
    rewrote rows scattered over the whole table (20,000 rows took over a minute at
    a million requests). A row rewritten moves, maybe to a page still ahead; there
    it no longer matches (it has its document), so no row is written twice, and
    the pages added since the start hold only rows that have one."""
    pages, per_page = _table_pages()
    step = max(1, int(batch_size / per_page))
    wanted = f"r.{COLUMN} IS DISTINCT FROM {_DOCUMENT}" if everything else f"r.{COLUMN} IS NULL"
    sql = (
        f"UPDATE {TABLE} r SET {COLUMN} = {_DOCUMENT}"  # noqa: S608 (constants only)
        " WHERE r.ctid >= format('(%%s,0)', %(first)s::bigint)::tid"
        " AND r.ctid < format('(%%s,0)', %(last)s::bigint)::tid"
        f" AND {wanted}"
    )
    for first in range(0, pages, step):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, _parameters(first=first, last=first + step))
            written = cursor.rowcount
        if written:
            yield written


def _table_pages() -> tuple[int, float]:
    """The table's pages now, and its rows per page (PostgreSQL's estimate)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int,"
            " reltuples, relpages FROM pg_class WHERE oid = %s::regclass",
            [TABLE, TABLE],
        )
        pages, rows, estimated_pages = cursor.fetchone()
    per_page = rows / estimated_pages if rows > 0 and estimated_pages > 0 else 30.0
    return int(pages), max(1.0, per_page)


# ------------------------------------------------------------------- reading
class Vector(Expression):
    """The ``search_vector`` column of the query's own table (under whatever alias
    the query gives it), for the match and the rank."""

    output_field = SearchVectorField()

    def __init__(self, alias: str | None = None):
        super().__init__()
        self.alias = alias

    def resolve_expression(self, query=None, *args, **kwargs):
        resolved = self.copy()
        resolved.alias = query.get_initial_alias()
        return resolved

    def relabeled_clone(self, change_map):
        return self.__class__(change_map.get(self.alias, self.alias))

    def as_sql(self, compiler, connection):
        return f"{compiler.quote_name_unless_alias(self.alias)}.{COLUMN}", []


def parsed(text: str) -> SearchQuery:
    """``q`` as web search syntax: words, "a phrase", OR, -word."""
    return SearchQuery(text, search_type="websearch", config=language())


def has_words(text: str) -> bool:
    """Whether ``q`` leaves anything to search for once the language's parser has
    dropped stop words and punctuation ("the", "?!" leave nothing)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT numnode(websearch_to_tsquery(%s::regconfig, %s))", [language(), text]
        )
        return cursor.fetchone()[0] > 0


def matching(queryset: QuerySet, text: str) -> QuerySet:
    """The requests whose document matches ``q``."""
    return queryset.alias(search_document=Vector()).filter(search_document=parsed(text))


def rank(text: str) -> SearchRank:
    """How well a document matches ``q``: ``ts_rank_cd`` (cover density) with the
    weights above."""
    return SearchRank(Vector(), parsed(text), cover_density=True)

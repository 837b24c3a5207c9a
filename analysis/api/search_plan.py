"""The history search's plan (issue 12: a history page under 20 ms at the 95th
percentile at a million requests, searches included): why, and how it is chosen,
is told below; ``analysis.api.filters`` applies it to a searched page."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import connections, transaction
from django.db.models import Q, QuerySet
from django.db.models.sql.datastructures import BaseTable

from analysis import search_document

# ----------------------------------------------------------- the search's plan
# A substring search (``UPPER(prompt) LIKE '%TERM%'``, and the file name) has two
# good plans, and which one depends on how rare the term is, which PostgreSQL
# cannot tell: its statistics hold a hundred sample prompts, so it guesses from
# whether one of them happens to hold the term. At a million requests it walked
# the ordering's index for some rare terms, testing row after row until a page
# was full (20,000 of the owner's rows: 60-130 ms), and for some middling ones
# read every trigram candidate (35,000 rows: 110 ms) where the walk fills a page
# in 1 ms. So the term is measured first, and the plan is ours (plan_search):
#
# - The probe: which share of a fixed sample of about SEARCH_SAMPLE_ROWS rows
#   matches (TABLESAMPLE SYSTEM: whole pages, the same ones every time: ~1.2 ms).
#   The trigram indexes would hand over that share of the table (all owners: the
#   indexes know none); the walk reads about (rows the page needs) / share rows.
# - Candidates first, when they are fewer than WALK_ROW_COST times the rows the
#   walk would read (a walk's row is a random read, a candidate's is in table
#   order), and the term has trigrams (three letters or digits in a row) to look
#   up: the table is read as ``(SELECT * FROM t WHERE <search> OFFSET 0)``, which
#   PostgreSQL can only answer through the trigram indexes (OFFSET 0 keeps it from
#   merging the two), and owner, filters, order and page are applied to those few
#   rows. A rare term (800-2,000 candidates), first page: 2-6 ms with the pages in
#   PostgreSQL's buffers, 5-20 ms when they must be read.
# - Otherwise the walk: the page is read with bitmap and sequential scans off (SET
#   LOCAL, a transaction of its own), so PostgreSQL reads the ordering's index
#   testing each row, and without parallel workers (starting them costs 5-7 ms,
#   more than such a walk). A middling term, first page: 0.3-2 ms.
# On the first page of a million requests the two meet at a share of about 0.65 %
# (6,500 candidates, 10-15 ms either way); deeper pages move it up. Either plan
# gives the same rows in the same order; only the time differs. Without the
# trigram indexes (a server without pg_trgm, as dev.py's embedded one) the query
# stays as it was: PostgreSQL reads rows.
SEARCH_INDEXES = ("idx_requests_prompt_trgm", "idx_requests_filename_trgm")  # analysis.models
SEARCH_SAMPLE_ROWS = 1000
WALK_ROW_COST = 2.0
WALK_SETTINGS = (
    ("enable_bitmapscan", "off"),
    ("enable_seqscan", "off"),
    ("max_parallel_workers_per_gather", "0"),
)
_HAS_TRIGRAM = re.compile(r"[^\W_]{3}")  # else pg_trgm would read its whole index


def plan_search(queryset: QuerySet, rows_needed: int) -> QuerySet:
    """A searched history queryset (``HistoryFilter.search_text``) with the plan its
    term calls for, for a page that needs the first ``rows_needed`` matches: the
    candidates first, or the walk (settings that ``planner_settings`` applies).
    Anything else, or a server without the trigram indexes: as it is."""
    search = getattr(queryset.query, "history_search", None)
    if search is None:
        return queryset
    condition, term = search
    where = _search_sql(queryset, condition)
    has_indexes, share, total = _probe(queryset, where)
    if not has_indexes:
        return queryset
    walk_rows = rows_needed / share if share else float("inf")
    if share * total < WALK_ROW_COST * walk_rows and _HAS_TRIGRAM.search(term):
        return _candidates_first(queryset, where)
    walk = queryset.all()
    walk.query.planner_settings = WALK_SETTINGS
    return walk


def _search_sql(queryset: QuerySet, condition: Q) -> tuple[str, tuple]:
    """The search's condition alone, as SQL (placeholders) and its parameters."""
    connection = connections[queryset.db]
    query = queryset.model._base_manager.filter(condition).query
    sql, params = query.get_compiler(connection=connection).compile(query.where)
    return sql, tuple(params)


def _probe(queryset: QuerySet, search: tuple[str, tuple]) -> tuple[bool, float, float]:
    """Whether the trigram indexes exist, the share of rows the search matches (in
    a sample of the table's pages) and the table's rows."""
    table = queryset.model._meta.db_table
    connection = connections[queryset.db]
    where, params = search
    quoted = connection.ops.quote_name(table)
    rows = int(SEARCH_SAMPLE_ROWS)
    # A percentage of the pages for about SEARCH_SAMPLE_ROWS rows; all of them
    # while the table is small or has never been analysed (reltuples -1).
    sql = (
        "SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL,"  # noqa: S608
        f" count(*) FILTER (WHERE {where}), count(*),"
        " (SELECT reltuples FROM pg_class WHERE oid = %s::regclass)"
        f" FROM {quoted} TABLESAMPLE SYSTEM ((SELECT least(100, {rows * 100}.0 / greatest(reltuples,"
        f" {rows})) FROM pg_class WHERE oid = %s::regclass)) REPEATABLE (0)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*SEARCH_INDEXES, *params, table, table])
        has_indexes, matched, sampled, reltuples = cursor.fetchone()
    if not sampled:
        return has_indexes, 0.0, 0.0
    return has_indexes, matched / sampled, max(reltuples, sampled)


class _SearchCandidates(BaseTable):
    """The history's table in the FROM clause as only the rows its search matches:
    ``(SELECT * FROM t WHERE <search> <tail>) t``, the tail ``OFFSET 0`` unless
    given. The alias is the table's own name, so every column the outer query
    names (``search_vector`` too: ``*``) is found as before."""

    def __init__(self, table_name: str, alias: str, where: str, params: tuple, tail: str = ""):
        super().__init__(table_name, alias)
        self.where, self.params, self.tail = where, params, tail or "OFFSET 0"

    def as_sql(self, compiler, connection):
        table = connection.ops.quote_name(self.table_name)
        alias = connection.ops.quote_name(self.table_alias)
        subquery = f"(SELECT * FROM {table} WHERE {self.where} {self.tail}) {alias}"  # noqa: S608
        return subquery, list(self.params)

    def relabeled_clone(self, change_map):
        alias = change_map.get(self.table_alias, self.table_alias)
        return self.__class__(self.table_name, alias, self.where, self.params, self.tail)

    @property
    def identity(self):
        return (*super().identity, self.where, self.params, self.tail)


def _candidates_first(queryset: QuerySet, search: tuple[str, tuple], tail: str = "") -> QuerySet:
    where, params = search
    candidates = queryset.all()
    query = candidates.query
    alias = query.get_initial_alias()
    query.alias_map[alias] = _SearchCandidates(
        query.alias_map[alias].table_name, alias, where, params, tail
    )
    return candidates


# ------------------------------------------------------ the ranked full-text search
# ``q`` without an ``ordering`` (issue 14): the most relevant first. Ranking every
# match costs time in proportion to the matches (a common word: a third of a million
# requests, each document read and ranked), and no index orders by rank (RUM is
# not in PostgreSQL's contrib). So the rank orders the newest RANK_WINDOW matches,
# found either through the GIN index (a rare term: all its matches, then sorted) or
# by walking the newest-first index testing each row (a common one: a few thousand
# rows), as PostgreSQL judges from its statistics of the words; older matches follow
# them, newest first. Each page reads only the part of that order it shows. The
# window's size is the cost: a walk tests about RANK_WINDOW / (the word's share)
# rows, each document read and ranked (a word in a fifth of the requests, at a
# million: 1,000 -> 35-55 ms, 200 -> 3-8 ms).
RANK_WINDOW = 200
NEWEST_FIRST = ("-created_at", "-id")


def read_ranked(
    queryset: QuerySet, text: str, start: int, count: int, read: Callable[..., list]
) -> list:
    """Rows ``start`` to ``start + count`` of ``queryset`` (filtered by ``q``) in the
    ranked order; ``read(queryset, start, count)`` reads a plain ordered slice."""
    queryset = plan_phrase(queryset, text)
    end = start + count
    rows: list = []
    if start < RANK_WINDOW:
        window = _ranked_window(queryset, text)
        with planner_settings(window):
            rows = list(window[start : min(end, RANK_WINDOW)])
        if len(rows) < min(end, RANK_WINDOW) - start:
            return rows  # fewer matches than the window holds: none follow
    if end > RANK_WINDOW:
        skip = max(start, RANK_WINDOW)
        newest = queryset.order_by(*NEWEST_FIRST)
        with planner_settings(newest):
            rows += read(newest, skip, end - skip)
    return rows


# A phrase ("harbour lights": the words next to each other, in that order) is the
# one ``q`` PostgreSQL misjudges. Its statistics know each word's share, and it
# takes the phrase's as theirs multiplied, as if any document holding both words
# held the phrase. A phrase of a common and a middling word thus looks common
# enough to walk the newest-first index, when few documents hold it: the walk
# tested 30,000-90,000 documents (130 ms at a million requests) where the GIN index
# hands over the few thousand holding both words. So a phrase is measured first,
# as plan_search measures a substring: in the same sample of the table's pages,
# the share of documents holding the phrase (how far a walk goes for
# RANK_WINDOW of them) and the share holding all its words (what the GIN index
# hands over, each then tested for the phrase). The cheaper plan is forced with
# planner settings, as plan_search's walk is; a query without a phrase is left to
# PostgreSQL, whose word statistics choose well.
GIN_SETTINGS = (
    ("enable_indexscan", "off"),  # no walk of an ordering's index
    ("enable_seqscan", "off"),
    ("max_parallel_workers_per_gather", "0"),
)
# The walk's settings, and a random page costed as on an SSD: at the default 4,
# the owner's newest-first index looks dearer than the all-owners one (its first
# column, owner_id, follows the table's order far less than created_at does), and
# PostgreSQL walked every owner's documents, 2.5 times the rows (42,000: 25-60 ms).
PHRASE_WALK_SETTINGS = (*WALK_SETTINGS, ("random_page_cost", "1.1"))
_PHRASE_OPERATOR = r"<[0-9]*-?>"  # <->, <2>: in tsquery's text form


def plan_phrase(queryset: QuerySet, text: str) -> QuerySet:
    """``queryset`` (filtered by ``q`` = ``text``) with the plan its phrase calls for:
    the GIN index or the walk (``planner_settings``); as it is without a phrase."""
    probe = _phrase_probe(queryset, text)
    if probe is None:
        return queryset
    phrase_share, words_share, total = probe
    walk_rows = min(RANK_WINDOW / phrase_share, total) if phrase_share else total
    planned = queryset.all()
    if words_share * total < WALK_ROW_COST * walk_rows:
        planned.query.planner_settings = GIN_SETTINGS
    else:
        planned.query.planner_settings = PHRASE_WALK_SETTINGS
    return planned


def _phrase_probe(
    queryset: QuerySet, text: str, *, whole: bool = False
) -> tuple[float, float, float] | None:
    """For a ``q`` with a phrase: the shares of sampled documents holding the phrase
    and holding all its words, and the table's rows. None without a phrase.

    A sample with no document in it means the statistics promise far more rows
    than the table holds (a table emptied since it was last analysed): then the
    whole table is read, which is small, and its count is the table's rows."""
    table = queryset.model._meta.db_table
    connection = connections[queryset.db]
    quoted = connection.ops.quote_name(table)
    column = search_document.COLUMN
    rows = int(SEARCH_SAMPLE_ROWS)
    percent = (
        "100"
        if whole
        else f"(SELECT least(100, {rows * 100}.0 / greatest(reltuples, {rows}))"  # noqa: S608
        " FROM pg_class WHERE oid = %(table)s::regclass)"
    )
    sql = (
        "WITH q AS (SELECT websearch_to_tsquery(%(language)s::regconfig, %(text)s) AS phrase)"  # noqa: S608
        f" SELECT q.phrase::text ~ %(operator)s, count(*) FILTER (WHERE t.{column} @@ q.phrase),"
        f" count(*) FILTER (WHERE t.{column} @@"
        "   regexp_replace(q.phrase::text, %(operator)s, '&', 'g')::tsquery),"
        f" count(t.{column}), (SELECT reltuples FROM pg_class WHERE oid = %(table)s::regclass)"
        f" FROM q LEFT JOIN {quoted} t TABLESAMPLE SYSTEM ({percent}) REPEATABLE (0)"
        f" ON q.phrase::text ~ %(operator)s AND t.deleted_at IS NULL GROUP BY q.phrase"
    )
    parameters = {
        "language": search_document.language(),
        "text": text,
        "operator": _PHRASE_OPERATOR,
        "table": table,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)
        has_phrase, in_phrase, with_words, sampled, reltuples = cursor.fetchone()
    if not has_phrase:
        return None
    if not sampled:
        return None if whole else _phrase_probe(queryset, text, whole=True)
    total = sampled if whole else max(reltuples, sampled)
    return in_phrase / sampled, with_words / sampled, total


def _ranked_window(queryset: QuerySet, text: str) -> QuerySet:
    """The newest RANK_WINDOW rows ``queryset`` matches, most relevant first (ties:
    newest first), as ``(SELECT * FROM t WHERE <every filter> ORDER BY created_at
    DESC, id DESC LIMIT n) t``."""
    connection = connections[queryset.db]
    query = queryset.query
    where, params = query.get_compiler(connection=connection).compile(query.where)
    tail = f"ORDER BY created_at DESC, id DESC LIMIT {int(RANK_WINDOW)}"
    window = _candidates_first(queryset, (where, tuple(params)), tail)
    return window.order_by(search_document.rank(text).desc(), *NEWEST_FIRST)


@contextmanager
def planner_settings(queryset: QuerySet) -> Iterator[None]:
    """The query's own planner settings (``plan_search``'s walk) around reading it:
    SET LOCAL in a transaction of its own, so they end with it. Inside an outer
    transaction (tests, ATOMIC_REQUESTS) a savepoint's release would carry them
    outwards, so the values before are put back."""
    chosen = getattr(queryset.query, "planner_settings", ())
    if not chosen:
        yield
        return
    alias = queryset.db
    connection = connections[alias]
    outer = connection.in_atomic_block
    names = [name for name, _ in chosen]
    calls = ", ".join("set_config(%s, %s, true)" for _ in chosen)
    with transaction.atomic(using=alias):
        with connection.cursor() as cursor:
            if outer:
                cursor.execute("SELECT " + ", ".join("current_setting(%s)" for _ in names), names)
                before = list(zip(names, cursor.fetchone(), strict=True))
            cursor.execute(f"SELECT {calls}", [part for pair in chosen for part in pair])
        yield
        if outer:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {calls}", [part for pair in before for part in pair])

"""GET /api/media/history at a million requests (issue 12; measured by
benchmarks/history_p95.py): what keeps every page cheap, tested at a small size.

- the total is counted only up to a limit (``count_exact`` says which), and a page
  with no next page needs no count at all;
- every ordering is read from an index, in both directions, the tie-break included
  (no Sort over the matches), per owner and staff-wide;
- the search can use the trigram indexes (the expressions match what icontains
  sends).
"""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.db import connection, transaction
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from analysis.api import views
from analysis.api.filters import COUNT_LIMIT, HistoryFilter, HistoryPagination
from analysis.api.views import visible_requests
from analysis.models import HISTORY_ORDERINGS, AnalysisRequest
from media_analysis.resilience import database_breaker_open, reset_breakers
from tests.api.test_history import HISTORY, bulk, ids

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("count_budget_of_a_second")]


@pytest.fixture
def count_limit_of_5(monkeypatch):
    monkeypatch.setattr(HistoryPagination, "count_limit", 5)


def request_queries(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "media_analysis_requests" in q["sql"]]


def test_count_is_exact_up_to_the_limit(alice):
    bulk(alice.user, 30)
    body = alice.client.get(HISTORY, {"page_size": 10}).json()
    assert (body["count"], body["count_exact"]) == (30, True)
    assert body["next"] and body["previous"] is None
    assert COUNT_LIMIT == 1000


def test_past_the_limit_count_is_a_lower_bound_and_pages_still_go_on(alice, count_limit_of_5):
    bulk(alice.user, 12)
    first = alice.client.get(HISTORY, {"page_size": 2}).json()
    assert (first["count"], first["count_exact"]) == (5, False)
    assert first["next"].endswith("page=2&page_size=2") or "page=2" in first["next"]
    # Deeper than the limit: at least every row seen so far (and the next one).
    fourth = alice.client.get(HISTORY, {"page_size": 2, "page": 4}).json()
    assert (fourth["count"], fourth["count_exact"]) == (9, False)
    assert "page=3" in fourth["previous"] and "page=5" in fourth["next"]
    # The last page knows the total without counting.
    last = alice.client.get(HISTORY, {"page_size": 2, "page": 6}).json()
    assert (last["count"], last["count_exact"], last["next"]) == (12, True, None)
    seen = []
    for page in range(1, 7):
        seen += ids(alice.client.get(HISTORY, {"page_size": 2, "page": page}))
    assert len(seen) == len(set(seen)) == 12
    beyond = alice.client.get(HISTORY, {"page_size": 2, "page": 7})
    assert beyond.status_code == 404


def test_the_count_reads_at_most_limit_plus_one_rows(alice):
    bulk(alice.user, 25)
    with CaptureQueriesContext(connection) as captured:
        assert alice.client.get(HISTORY).status_code == 200
    page, count = request_queries(captured)
    assert "LIMIT 21" in page
    assert "COUNT(*)" in count and f"LIMIT {COUNT_LIMIT + 1}" in count
    assert "ORDER BY" not in count  # any rows will do: the cheapest plan


def test_a_count_budget_of_zero_counts_nothing_beyond_the_page(alice, settings):
    settings.HISTORY_COUNT_BUDGET_MS = 0
    bulk(alice.user, 25)
    with CaptureQueriesContext(connection) as captured:
        body = alice.client.get(HISTORY).json()
    assert [sql for sql in request_queries(captured) if "COUNT(*)" in sql] == []
    # The page read 21 rows: at least that many, and a next page.
    assert (body["count"], body["count_exact"], len(body["results"])) == (21, False, 20)
    assert body["next"]


def test_a_search_counts_nothing_beyond_its_pages(alice):
    bulk(alice.user, 5, original_filename="the-xylophone.mp4")
    with CaptureQueriesContext(connection) as captured:
        first = alice.client.get(HISTORY, {"search": "XYLO", "page_size": 2}).json()
    assert [sql for sql in request_queries(captured) if "COUNT(*)" in sql] == []
    assert (first["count"], first["count_exact"], len(first["results"])) == (3, False, 2)
    last = alice.client.get(HISTORY, {"search": "XYLO", "page_size": 2, "page": 3}).json()
    assert (last["count"], last["count_exact"], last["next"]) == (5, True, None)


def test_a_page_without_a_next_page_runs_no_count(alice):
    bulk(alice.user, 3)
    with CaptureQueriesContext(connection) as captured:
        body = alice.client.get(HISTORY).json()
    assert (body["count"], body["count_exact"], body["next"]) == (3, True, None)
    assert len(request_queries(captured)) == 1


@pytest.fixture
def slow_rows(monkeypatch, settings):
    """Every row the history reads costs PostgreSQL 10 ms (a sparse filter at a
    million requests, in miniature), and the count gets 1 ms."""
    settings.HISTORY_COUNT_BUDGET_MS = 1
    monkeypatch.setattr(
        views,
        "visible_requests",
        lambda user: visible_requests(user).extra(where=["pg_sleep(0.01)::text = ''"]),
    )


def statement_timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


def test_a_count_out_of_time_is_a_lower_bound_not_a_failure(alice, settings, slow_rows):
    settings.DB_BREAKER_FAIL_MAX = 1  # one failure would open the breaker
    reset_breakers()
    before = statement_timeout()
    bulk(alice.user, 5)
    with CaptureQueriesContext(connection) as captured:
        response = alice.client.get(HISTORY, {"page_size": 2})
    assert response.status_code == 200, response.content
    body = response.json()
    # The rows the page read (two shown, one more): all it knows of the total.
    assert (body["count"], body["count_exact"], len(body["results"])) == (3, False, 2)
    assert "page=2" in body["next"]
    assert [sql for sql in request_queries(captured) if "COUNT(*)" in sql]
    assert not database_breaker_open()
    assert statement_timeout() == before  # the count's budget went with it
    again = alice.client.get(HISTORY, {"page_size": 2, "page": 3})  # the last page
    assert (again.json()["count"], again.json()["count_exact"]) == (5, True)


@pytest.mark.django_db(transaction=True)
def test_the_counts_budget_never_outlives_its_transaction(alice, slow_rows):
    """Outside any transaction (production: autocommit), as inside one (above); on
    one connection throughout (a request would hand it back to the pool)."""
    bulk(alice.user, 4)
    before = statement_timeout()
    pagination = HistoryPagination()
    assert pagination._bounded_count(views.visible_requests(alice.user)) is None
    assert statement_timeout() == before
    pagination.count_timeout_ms = 5000
    assert pagination._bounded_count(views.visible_requests(alice.user)) == 4
    assert statement_timeout() == before


def test_an_empty_history_is_a_page_of_nothing(alice):
    body = alice.client.get(HISTORY).json()
    assert body == {
        "count": 0,
        "count_exact": True,
        "next": None,
        "previous": None,
        "results": [],
    }


def test_the_tie_break_follows_the_direction_of_the_ordering(alice):
    rows = bulk(alice.user, 6)  # one transaction: equal created_at
    by_id = sorted(str(r.id) for r in rows)
    assert ids(alice.client.get(HISTORY, {"ordering": "created_at"})) == by_id
    assert ids(alice.client.get(HISTORY, {"ordering": "-created_at"})) == by_id[::-1]
    assert ids(alice.client.get(HISTORY)) == by_id[::-1]  # newest first, as before
    seen = []
    for page in (1, 2, 3):
        seen += ids(alice.client.get(HISTORY, {"ordering": "status", "page_size": 2, "page": page}))
    assert seen == by_id


def plan_of(queryset) -> str:
    """PostgreSQL's plan for the page query, told to avoid whole-table reads and
    sorts wherever an index can do instead (a handful of test rows would otherwise
    always be read in full)."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return plan


def history_queryset(user, **query):
    data = QueryDict(mutable=True)
    data.update(query)
    filterset = HistoryFilter(data, queryset=visible_requests(user))
    assert filterset.is_valid(), filterset.errors
    return filterset.qs


@pytest.mark.parametrize("field", HISTORY_ORDERINGS)
@pytest.mark.parametrize("direction", ["", "-"])
@pytest.mark.parametrize("who", ["alice", "staff"])
def test_every_ordering_is_read_from_an_index(request, field, direction, who):
    caller = request.getfixturevalue(who)
    bulk(caller.user, 5)
    with transaction.atomic():  # SET LOCAL needs a transaction
        plan = plan_of(history_queryset(caller.user, ordering=f"{direction}{field}")[:21])
    nodes = plan_nodes(plan)
    assert any(node.startswith("Index Scan") for node in nodes), plan
    # A Sort (even an incremental one, of ties) reads every match first.
    assert not [node for node in nodes if "Sort" in node], plan


def plan_nodes(plan: str) -> list[str]:
    """The node names of a text EXPLAIN ("Limit", "Index Scan Backward", "Sort")."""
    return [
        line.split("->")[-1].split("  (cost=")[0].split(" using ")[0].strip()
        for line in plan.splitlines()
        if "(cost=" in line
    ]


TRIGRAM_MIGRATION = importlib.import_module("analysis.migrations.0005_history_orderings_and_search")
TRIGRAM_INDEX_NAMES = {"idx_requests_prompt_trgm", "idx_requests_filename_trgm"}


def indexes_present(names: set[str]) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname = ANY(%s)", [list(names)])
        return {row[0] for row in cursor.fetchall()}


def test_the_search_uses_the_trigram_indexes_wherever_pg_trgm_is(alice, capsys):
    """Not a skip on either kind of server: with pg_trgm (a packaged PostgreSQL) the
    migration built the indexes and the search's plan uses them; without it (the
    embedded server of dev.py and CI) the migration built none and says why, and
    the search still works (test_the_search_still_finds_substrings_in_any_case)."""
    reason = TRIGRAM_MIGRATION.trigram_unavailable(connection)
    if reason is not None:
        assert indexes_present(TRIGRAM_INDEX_NAMES) == set()
        with connection.schema_editor() as editor:
            TRIGRAM_MIGRATION.add_trigram_indexes(django_apps, editor)
        assert f"No trigram indexes for the history's search ({reason})" in capsys.readouterr().err
        assert indexes_present(TRIGRAM_INDEX_NAMES) == set()
        return
    assert indexes_present(TRIGRAM_INDEX_NAMES) == TRIGRAM_INDEX_NAMES
    bulk(alice.user, 5)
    # The search's own condition alone (no owner, no deleted_at, whose indexes the
    # planner could pick instead): with sequential reads off, only an index on the
    # very expressions icontains sends can answer it.
    queryset = HistoryFilter().search_text(AnalysisRequest.objects.order_by(), "search", "xylo")
    sql, params = queryset.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Bitmap Index Scan on idx_requests_prompt_trgm" in plan, plan
    assert "Bitmap Index Scan on idx_requests_filename_trgm" in plan, plan


def test_without_pg_trgm_the_migration_says_so_and_builds_nothing(monkeypatch, capsys):
    """What the embedded server (no pg_trgm) gets, on any server."""
    monkeypatch.setattr(TRIGRAM_MIGRATION, "trigram_unavailable", lambda connection: "no pg_trgm")
    built: list[object] = []
    editor = SimpleNamespace(
        connection=connection, add_index=lambda *args, **kw: built.append(args)
    )
    TRIGRAM_MIGRATION.add_trigram_indexes(django_apps, editor)
    assert "No trigram indexes for the history's search (no pg_trgm)" in capsys.readouterr().err
    assert built == []


def test_the_search_still_finds_substrings_in_any_case(alice):
    bulk(alice.user, 2)
    target = AnalysisRequest.objects.filter(owner=alice.user).first()
    AnalysisRequest.objects.filter(pk=target.pk).update(
        prompt="Is there a Xylophone here?", original_filename="Band-Practice.MP4"
    )
    assert ids(alice.client.get(HISTORY, {"search": "xyloPHONE"})) == [str(target.id)]
    assert ids(alice.client.get(HISTORY, {"search": "d-prac"})) == [str(target.id)]
    assert ids(alice.client.get(HISTORY, {"search": "ph"})) == [str(target.id)]  # < 3 letters


def test_the_schema_documents_count_exact(alice):
    schema = alice.client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    page = schema["components"]["schemas"]["PaginatedHistoryItemList"]
    assert page["properties"]["count_exact"]["type"] == "boolean"
    assert "count_exact" in page["required"]
    assert "lower bound" in page["properties"]["count"]["description"]


def test_the_status_filter_asks_for_no_distinct(alice):
    bulk(alice.user, 3, status="completed")
    with CaptureQueriesContext(connection) as captured:
        body = alice.client.get(HISTORY, {"status": "completed,failed"}).json()
    assert body["count"] == 3
    assert not [sql for sql in request_queries(captured) if "DISTINCT" in sql]


def test_several_statuses_are_one_in_that_the_owner_status_index_seeks(alice):
    bulk(alice.user, 3, status="failed")
    with CaptureQueriesContext(connection) as captured:
        body = alice.client.get(HISTORY, {"status": "failed,cancelled", "page_size": 2}).json()
    assert (body["count"], body["count_exact"]) == (3, True)  # a next page: counted
    count_sql = next(sql for sql in request_queries(captured) if "COUNT(*)" in sql)
    # One IN: PostgreSQL seeks (owner, status) for it (benchmarks/history_p95.py
    # prints the plan at a million requests); an OR reads all the owner's entries.
    assert '"status" IN (' in count_sql and " OR " not in count_sql


def test_deep_pages_are_found_by_their_keys_first(alice, monkeypatch):
    monkeypatch.setattr("analysis.api.filters.DEEP_PAGE_ROWS", 4)
    rows = bulk(alice.user, 11)
    by_id = sorted(str(r.id) for r in rows)[::-1]  # equal created_at: the key decides
    with CaptureQueriesContext(connection) as captured:
        third = alice.client.get(HISTORY, {"page_size": 3, "page": 3})
    assert ids(third) == by_id[6:9]
    keys, page, *_ = request_queries(captured)
    assert keys.startswith('SELECT "media_analysis_requests"."id" AS "pk" FROM')
    assert "OFFSET 6" in keys and " IN (" in page
    seen = []
    for number in range(1, 5):
        seen += ids(alice.client.get(HISTORY, {"page_size": 3, "page": number}))
    assert seen == by_id
    statuses = [
        item["status"]
        for item in alice.client.get(HISTORY, {"page_size": 3, "page": 2}).json()["results"]
    ]
    assert statuses == ["pending"] * 3

"""The history search's plan, chosen by how rare its term is (issue 12;
``analysis.api.search_plan.plan_search``): a rare term is looked up in the trigram
indexes first, anything else walks the ordering's index. Either plan must give
exactly the pages PostgreSQL's own plan gives: the same rows, in the same order,
with the same ``next``; only the time differs (benchmarks/history_p95.py).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analysis.api import filters, search_plan
from analysis.cache import forget_everything
from analysis.models import AnalysisRequest
from tests.api.test_history import HISTORY
from tests.api.test_history_at_scale import history_queryset, plan_nodes, plan_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("count_budget_of_a_second")]

WORDS = ("Describe", "the", "Theremin", "scene", "Zeppelin", "crowd", "river")


def has_trigram_indexes() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_indexes WHERE indexname = ANY(%s)",
            [list(search_plan.SEARCH_INDEXES)],
        )
        return cursor.fetchone()[0] == len(search_plan.SEARCH_INDEXES)


def history_of(owner, count: int, seed: int = 0) -> list[AnalysisRequest]:
    """``count`` requests a minute apart, with prompts and file names of the words
    above (some rare, some common), a few with equal times (ties by key), and
    statuses, media types and latencies varied."""
    now = timezone.now()
    rows = []
    for n in range(count):
        k = n * 7 + seed
        prompt = " ".join(WORDS[(k + i * 3) % len(WORDS)] for i in range(1 + k % 3))
        rows.append(
            AnalysisRequest(
                owner=owner,
                media_url="https://example.org/x",
                prompt=f"a rare THEREMIN {n}" if k % 11 == 0 else prompt,
                original_filename=f"zeppelin-{n}.mp4" if k % 13 == 0 else None,
                status=("completed", "failed", "pending")[k % 3],
                media_type=("video", "image", "audio")[k % 3],
                latency_ms=(k * 37) % 500,
            )
        )
    rows = AnalysisRequest.objects.bulk_create(rows)
    for n, row in enumerate(rows):
        row.created_at = now - timedelta(minutes=(n // 3) * 3)  # threes share a time
    AnalysisRequest.objects.bulk_update(rows, ["created_at"])
    return rows


def every_page(client, query: dict) -> list[dict]:
    """Every page of a query, as the API answers them (results, next, previous),
    from the database: cached pages made stale first."""
    forget_everything()
    pages, number = [], 1
    while True:
        response = client.get(HISTORY, {**query, "page": number})
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append({key: body[key] for key in ("results", "next", "previous", "count")})
        if body["next"] is None:
            return pages
        number += 1


@pytest.fixture
def plan(monkeypatch):
    """Force a plan: "candidates" (any term with trigrams), "walk" (every term) or
    "planner" (no plan of ours: PostgreSQL's own, the reference)."""

    def force(which: str) -> None:
        if which == "planner":
            monkeypatch.setattr(filters, "plan_search", lambda queryset, rows_needed: queryset)
            return
        monkeypatch.undo()
        cost = {"candidates": 1e12, "walk": 0.0}[which]
        monkeypatch.setattr(search_plan, "WALK_ROW_COST", cost)

    return force


QUERIES = [
    {"search": "theremin", "page_size": 3},
    {"search": "ZEPPELIN", "page_size": 4},
    {"search": "scene", "page_size": 5},
    {"search": "theremin", "page_size": 2, "ordering": "-latency_ms"},
    {"search": "theremin", "page_size": 2, "ordering": "created_at"},
    {"search": "rare", "status": "completed,pending", "page_size": 2},
    {"search": "the", "media_type": "video", "ordering": "status", "page_size": 3},
    {"search": "nothing-like-it", "page_size": 3},
    {"search": "he", "page_size": 4},  # no trigram: never the candidates
]


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: "&".join(f"{k}={v}" for k, v in q.items()))
@pytest.mark.parametrize("who", ["alice", "staff"])
def test_both_plans_give_exactly_the_planners_pages(request, plan, query, who):
    alice, bob = request.getfixturevalue("alice"), request.getfixturevalue("bob")
    history_of(alice.user, 40)
    history_of(bob.user, 25, seed=3)  # another owner's: never in alice's pages
    caller = request.getfixturevalue(who)
    plan("planner")
    expected = every_page(caller.client, query)
    assert expected[0]["results"] or query["search"] == "nothing-like-it"
    for which in ("candidates", "walk"):
        plan(which)
        queries = page_queries(caller.client, query)
        chosen = "OFFSET 0)" if which == "candidates" else "set_config"
        if has_trigram_indexes() and (which == "walk" or query["search"] != "he"):
            assert [sql for sql in queries if chosen in sql], which
        assert every_page(caller.client, query) == expected, which


def test_deep_pages_are_the_same_in_both_plans(alice, plan, monkeypatch):
    monkeypatch.setattr("analysis.api.filters.DEEP_PAGE_ROWS", 4)  # keys first from row 4
    history_of(alice.user, 60)
    query = {"search": "e", "page_size": 3}
    plan("planner")
    expected = every_page(alice.client, query)
    assert len(expected) > 3
    for which in ("candidates", "walk"):
        plan(which)
        assert every_page(alice.client, query) == expected, which


def page_queries(client, query: dict) -> list[str]:
    forget_everything()  # from the database, not the cache
    with CaptureQueriesContext(connection) as captured:
        assert client.get(HISTORY, query).status_code == 200
    return [q["sql"] for q in captured.captured_queries if "api_tokens" not in q["sql"]]


def test_a_rare_term_reads_its_candidates_first_and_a_common_one_walks(alice):
    """Chosen by the probe on its own: a sample of the table (here all of it).
    Without pg_trgm (dev.py's embedded server) neither: see the test after next."""
    history_of(alice.user, 60)
    rare = page_queries(alice.client, {"search": "theremin"})  # 6 of 60 rows
    if not has_trigram_indexes():
        assert not [sql for sql in rare if "OFFSET 0)" in sql or "set_config" in sql]
        return
    page = rare[-1]
    assert "TABLESAMPLE SYSTEM" in rare[0]
    assert 'FROM (SELECT * FROM "media_analysis_requests" WHERE' in page and "OFFSET 0)" in page
    assert not [sql for sql in rare if "set_config" in sql]
    common = page_queries(alice.client, {"search": "e"})  # every row
    assert "OFFSET 0)" not in common[-2]
    settings_sql = next(sql for sql in common if "set_config" in sql)
    assert "enable_bitmapscan" in settings_sql and "max_parallel_workers_per_gather" in settings_sql


def test_the_candidates_come_through_the_trigram_indexes(alice):
    if not has_trigram_indexes():
        return  # no candidates first without them (the test after next)
    history_of(alice.user, 5)
    sql = page_queries(alice.client, {"search": "theremin"})[-1]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a handful of rows: else read whole
        cursor.execute("EXPLAIN " + sql.replace("%", "%%"))
        text = "\n".join(row[0] for row in cursor.fetchall())
    assert "Bitmap Index Scan on idx_requests_prompt_trgm" in text, text
    assert "Bitmap Index Scan on idx_requests_filename_trgm" in text, text


def show(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


def test_the_walks_settings_end_with_its_page(alice, plan):
    history_of(alice.user, 30)
    before = {name: show(name) for name, _ in search_plan.WALK_SETTINGS}
    plan("walk")
    assert every_page(alice.client, {"search": "scene", "page_size": 7})
    assert {name: show(name) for name, _ in search_plan.WALK_SETTINGS} == before


def test_without_trigram_indexes_the_search_is_left_to_postgresql(alice, plan, monkeypatch):
    """A server without pg_trgm (dev.py's embedded one): no plan of ours."""
    history_of(alice.user, 30)
    plan("planner")
    expected = every_page(alice.client, {"search": "theremin", "page_size": 2})
    monkeypatch.undo()
    monkeypatch.setattr(search_plan, "SEARCH_INDEXES", ("no_such_index", "nor_this_one"))
    for sql in page_queries(alice.client, {"search": "theremin", "page_size": 2}):
        assert "OFFSET 0)" not in sql and "set_config" not in sql
    assert every_page(alice.client, {"search": "theremin", "page_size": 2}) == expected


def test_a_history_without_search_asks_for_no_probe(alice):
    history_of(alice.user, 5)
    for sql in page_queries(alice.client, {"status": "completed"}):
        assert "TABLESAMPLE" not in sql and "set_config" not in sql


def test_a_search_walking_one_media_type_reads_its_own_index(alice):
    """The filtered search of the benchmark's "filters + search combined" walks
    (owner, media_type, created_at, id): only rows of that type, newest first."""
    history_of(alice.user, 10)
    queryset = history_queryset(alice.user, media_type="video", search="scene")
    with transaction.atomic():  # SET LOCAL needs a transaction
        plan = plan_of(queryset[:21])
    assert "idx_requests_owner_media" in plan, plan
    assert not [node for node in plan_nodes(plan) if "Sort" in node], plan

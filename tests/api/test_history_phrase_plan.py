"""The plan of a ``q`` holding a phrase (analysis.api.search_plan.plan_phrase), on
real PostgreSQL: a phrase whose words are common but rarely side by side reads the
GIN index; one that is itself common walks the newest-first index; a q without a
phrase is left to PostgreSQL. Whatever the plan, the pages are exactly those of
PostgreSQL's own plan, and the planner settings end with the page."""

from __future__ import annotations

import pytest
from django.db import connection

from analysis import search_document
from analysis.api import search_plan
from tests.api.conftest import make_request
from tests.api.test_history_search_plan import every_page, page_queries, show

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("count_budget_of_a_second")]


def history_of_words(owner, count: int) -> None:
    """Every prompt holds "harbour" and "crane"; one in ten as the phrase
    "harbour crane", and every one the phrase "night watch"."""
    for n in range(count):
        words = "harbour crane" if n % 10 == 0 else "crane seen from the harbour"
        request = make_request(owner, prompt=f"{words}, night watch {n}")
        search_document.refresh(request.id)


def chosen_settings(client, query: dict) -> list[str]:
    return [sql for sql in page_queries(client, query) if "set_config" in sql]


def test_a_phrase_rarer_than_its_words_reads_the_gin_index(alice, monkeypatch):
    history_of_words(alice.user, 60)
    monkeypatch.setattr(search_plan, "RANK_WINDOW", 5)
    # 6 of 60 documents hold the phrase, all 60 both words: a walk reads about 50
    # documents for the window's 5, each a random read (twice a candidate's cost);
    # the index hands over 60.
    gin = chosen_settings(alice.client, {"q": '"harbour crane"', "page_size": 4})
    assert "enable_indexscan" in gin[0] and "enable_bitmapscan" not in gin[0]
    monkeypatch.setattr(search_plan, "WALK_ROW_COST", 1.0)  # 50 < 60: now it walks
    walk = chosen_settings(alice.client, {"q": '"harbour crane"', "page_size": 4})
    assert "enable_bitmapscan" in walk[0]


def test_statistics_promising_far_more_rows_read_the_whole_table(alice, monkeypatch):
    """A table emptied since it was last analysed (the suite's million-row test ran
    before): the sample holds no document, so the probe reads the whole table."""
    history_of_words(alice.user, 60)
    monkeypatch.setattr(search_plan, "RANK_WINDOW", 5)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE pg_class SET reltuples = 1000000, relpages = 100000"
            " WHERE oid = 'media_analysis_requests'::regclass"
        )
    gin = chosen_settings(alice.client, {"q": '"harbour crane"', "page_size": 4})
    assert "enable_indexscan" in gin[0]
    walk = chosen_settings(alice.client, {"q": '"night watch"'})
    assert "enable_bitmapscan" in walk[0]


def test_each_plan_gives_exactly_postgresql_s_pages(alice, bob, monkeypatch):
    history_of_words(alice.user, 45)
    history_of_words(bob.user, 12)
    query = {"q": '"harbour crane" watch', "page_size": 2}
    monkeypatch.setattr(search_plan, "RANK_WINDOW", 3)  # pages past the window too
    monkeypatch.setattr(search_plan, "plan_phrase", lambda queryset, text: queryset)
    expected = every_page(alice.client, query)
    assert sum(len(page["results"]) for page in expected) == 5
    monkeypatch.undo()
    monkeypatch.setattr(search_plan, "RANK_WINDOW", 3)
    for cost, setting in ((1e12, "enable_indexscan"), (0.0, "enable_bitmapscan")):
        monkeypatch.setattr(search_plan, "WALK_ROW_COST", cost)
        assert setting in chosen_settings(alice.client, query)[0]
        assert every_page(alice.client, query) == expected, setting


def test_a_common_phrase_walks(alice, monkeypatch):
    history_of_words(alice.user, 30)
    monkeypatch.setattr(search_plan, "RANK_WINDOW", 5)  # the window's 5 in the first 5
    settings_sql = chosen_settings(alice.client, {"q": '"night watch"'})
    assert "enable_bitmapscan" in settings_sql[0]


def test_without_a_phrase_postgresql_plans_alone(alice):
    history_of_words(alice.user, 10)
    for q in ("harbour crane", "harbour or crane", "harbour -crane", '"harbour"', '"the harbour"'):
        assert chosen_settings(alice.client, {"q": q}) == [], q


def test_the_settings_end_with_the_page(alice):
    history_of_words(alice.user, 20)
    names = [name for name, _ in (*search_plan.GIN_SETTINGS, *search_plan.PHRASE_WALK_SETTINGS)]
    before = {name: show(name) for name in names}
    assert every_page(alice.client, {"q": '"harbour crane"', "page_size": 1})
    assert {name: show(name) for name in names} == before


@pytest.mark.parametrize(
    "q",
    [
        "\"harbour 'crane'\"",
        '"harbour: crane\\\\" or "night & watch"',
        '"harbour -crane" -"night watch"',
        '"harbour (crane | night)"',
        '"a" "harbour <-> crane" <2>',
    ],
)
def test_a_phrase_of_any_characters_is_probed_not_refused(alice, q):
    history_of_words(alice.user, 5)
    response = alice.client.get("/api/media/history", {"q": q})
    assert response.status_code == 200, response.content

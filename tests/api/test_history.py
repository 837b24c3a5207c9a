"""GET /api/media/history: pagination, filters, ordering, visibility, caching, and
filter values that must be refused (or harmless) rather than reach SQL as text."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analysis import services
from analysis.models import AnalysisRequest, AnalysisStatus
from tests.api.conftest import error_of, make_request
from tests.conftest import force_status

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("count_budget_of_a_second")]


HISTORY = "/api/media/history"


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def bulk(owner, count, **fields):
    rows = [
        AnalysisRequest(
            owner=owner, media_url="https://example.org/x", prompt=f"prompt {i}", **fields
        )
        for i in range(count)
    ]
    return AnalysisRequest.objects.bulk_create(rows)


def test_pages_of_20_by_default_and_page_size_capped_at_100(alice):
    bulk(alice.user, 130)
    body = alice.client.get(HISTORY).json()
    assert body["count"] == 130 and len(body["results"]) == 20 and body["next"]
    assert len(alice.client.get(HISTORY, {"page_size": 50}).json()["results"]) == 50
    assert len(alice.client.get(HISTORY, {"page_size": 1000}).json()["results"]) == 100
    assert alice.client.get(HISTORY, {"page_size": "junk"}).status_code == 400
    last = alice.client.get(HISTORY, {"page": 7})
    assert len(last.json()["results"]) == 10
    beyond = alice.client.get(HISTORY, {"page": 99})
    assert beyond.status_code == 404 and error_of(beyond)["code"] == "not_found"


def test_pages_never_repeat_or_skip_rows_with_equal_timestamps(alice):
    bulk(alice.user, 45)  # one transaction: one created_at for all
    seen = []
    for page in (1, 2, 3):
        seen += ids(alice.client.get(HISTORY, {"page": page}))
    assert len(seen) == len(set(seen)) == 45


def test_newest_first_and_ordering(alice):
    old = make_request(alice.user, prompt="old")
    AnalysisRequest.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    new = make_request(alice.user, prompt="new")
    assert ids(alice.client.get(HISTORY)) == [str(new.id), str(old.id)]
    assert ids(alice.client.get(HISTORY, {"ordering": "created_at"})) == [str(old.id), str(new.id)]


def test_filters(alice):
    video = make_request(
        alice.user,
        status="completed",
        media_type="video",
        provider="openai",
        model_used="gpt-4o-mini",
        original_filename="beach.mp4",
    )
    audio = make_request(
        alice.user,
        status="failed",
        media_type="audio",
        provider="builtin",
        prompt="transcribe the meeting",
    )
    pending = make_request(alice.user, status="pending")
    cancelled = make_request(alice.user, status="cancelled")
    AnalysisRequest.objects.filter(pk=pending.pk).update(
        created_at=timezone.now() - timedelta(days=3)
    )
    get = lambda **q: set(ids(alice.client.get(HISTORY, q)))  # noqa: E731
    assert get(status="completed") == {str(video.id)}
    assert get(status="completed,failed") == {str(video.id), str(audio.id)}
    assert set(ids(alice.client.get(f"{HISTORY}?status=failed&status=cancelled"))) == {
        str(audio.id),
        str(cancelled.id),
    }
    assert get(media_type="audio") == {str(audio.id)}
    assert get(provider="openai") == {str(video.id)}
    assert get(model_used="gpt-4o-mini") == {str(video.id)}
    assert get(search="MEETING") == {str(audio.id)}
    assert get(search="beach") == {str(video.id)}
    day_ago = (timezone.now() - timedelta(days=1)).isoformat()
    assert get(created_before=day_ago) == {str(pending.id)}
    assert str(pending.id) not in get(created_after=day_ago)


def test_soft_deleted_and_other_users_requests_never_appear(alice, bob, staff):
    mine = make_request(alice.user)
    deleted = make_request(alice.user)
    services.soft_delete_request(deleted.id)
    theirs = make_request(bob.user)
    assert ids(alice.client.get(HISTORY)) == [str(mine.id)]
    assert set(ids(staff.client.get(HISTORY))) == {str(mine.id), str(theirs.id)}
    force_status(deleted.pk, AnalysisStatus.COMPLETED)  # deleted_at stays
    assert ids(alice.client.get(HISTORY)) == [str(mine.id)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "exploded"}, "status"),
        ({"status": "deleted"}, "status"),
        ({"media_type": "hologram"}, "media_type"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": "2024-13-45"}, "created_before"),
        ({"ordering": "password"}, "ordering"),
        ({"search": "a\x00b"}, "search"),
        ({"provider": "x" * 201}, "provider"),
    ],
)
def test_unknown_filter_values_are_named_400s(alice, query, field):
    response = alice.client.get(HISTORY, query)
    assert response.status_code == 400
    error = error_of(response)
    assert error["field"] == field
    assert error["code"] in {f"invalid_{field}", f"{field}_too_long"}


SQL_META = [
    "' OR '1'='1",
    '"; DROP TABLE media_analysis_requests; --',
    "%",
    "_",
    "\\",
    "1; SELECT pg_sleep(5)",
    "*/--",
]


@pytest.mark.parametrize("text", SQL_META)
def test_sql_meta_characters_are_just_text(alice, text):
    make_request(alice.user, prompt="plain prompt")
    before = list(AnalysisRequest.objects.values_list("id", "status", "prompt"))
    for field in ("search", "provider", "model_used"):
        response = alice.client.get(HISTORY, {field: text})
        assert response.status_code == 200
        assert response.json()["count"] == 0
    for field in ("status", "media_type", "ordering", "created_after"):
        assert alice.client.get(HISTORY, {field: text}).status_code == 400
    assert list(AnalysisRequest.objects.values_list("id", "status", "prompt")) == before


def test_history_pages_are_cached_and_invalidated_by_changes(alice, allow_local_media):
    first = make_request(alice.user)
    assert alice.client.get(HISTORY)["X-Data-Source"] == "database"
    assert alice.client.get(HISTORY)["X-Data-Source"] == "cache"
    response = alice.client.post(
        "/api/media/analyze", {"media_url": "http://127.0.0.1:9/a", "prompt": "p"}, format="json"
    )
    assert response.status_code == 202
    listed = alice.client.get(HISTORY)
    assert listed["X-Data-Source"] == "database"
    assert set(ids(listed)) == {response.json()["id"], str(first.id)}
    services.cancel_request(first.id)
    assert alice.client.get(HISTORY, {"status": "cancelled"}).json()["count"] == 1


def test_a_change_to_one_users_request_leaves_other_users_pages_cached(alice, bob):
    make_request(alice.user)
    make_request(bob.user)
    alice.client.get(HISTORY)
    bob.client.get(HISTORY)
    services.cancel_request(AnalysisRequest.objects.get(owner=alice.user).id)
    assert alice.client.get(HISTORY)["X-Data-Source"] == "database"
    assert bob.client.get(HISTORY)["X-Data-Source"] == "cache"


def test_history_ttl_is_60_seconds(alice):
    from django_redis import get_redis_connection

    alice.client.get(HISTORY)
    client = get_redis_connection("default")
    keys = client.keys("*:api:history:*")
    assert len(keys) == 1
    assert 55 < client.ttl(keys[0]) <= 60


@pytest.mark.parametrize(
    "value",
    [
        "",
        "0497-09-29T04:12:40+19:07",
        "2024-01-01T00:00:00-16:00",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
    ],
)
def test_dates_postgresql_cannot_compare_are_named_400s(alice, value):
    for field in ("created_after", "created_before"):
        response = alice.client.get(HISTORY, {field: value})
        assert response.status_code == 400, (field, value, response.content)
        assert error_of(response)["field"] == field


@pytest.mark.parametrize(
    "value",
    ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2024-06-01T12:00:00+14:00", "2024-06-01"],
)
def test_extreme_but_valid_dates_work(alice, value):
    make_request(alice.user)
    assert alice.client.get(HISTORY, {"created_after": value}).status_code == 200


@pytest.mark.parametrize("value", ["", "0", "-3", "abc", "1.5", "null", "²", "last"])
@pytest.mark.parametrize("field", ["page", "page_size"])
def test_a_page_or_page_size_that_is_not_a_whole_number_is_a_named_400(alice, field, value):
    response = alice.client.get(f"{HISTORY}?{field}={value}")
    assert response.status_code == 400
    assert error_of(response)["code"] == f"invalid_{field}"


@pytest.mark.parametrize(
    "field", ["status", "media_type", "ordering", "created_after", "created_before"]
)
def test_an_empty_value_for_a_choice_or_date_is_a_named_400(alice, field):
    for value in ("", ",", "completed,"):
        response = alice.client.get(f"{HISTORY}?{field}={value}")
        assert response.status_code == 400
        assert error_of(response)["field"] == field

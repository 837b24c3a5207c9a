"""The history's lines are built by ``history_items`` from ``.values()`` rows (issue
12: DRF's serializer was a large part of an uncached page's time); they must render
to the very bytes ``HistoryItemSerializer`` gives for the same rows, which stays the
schema's description of a line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from analysis.api.history_serializers import HISTORY_COLUMNS, HistoryItemSerializer, history_items
from analysis.models import AnalysisRequest
from tests.api.conftest import make_request
from tests.api.test_history import HISTORY

pytestmark = pytest.mark.django_db


def varied_rows(owner) -> list[AnalysisRequest]:
    """Rows with every null a line can hold, and every kind of value."""
    at = datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=UTC)
    return [
        make_request(owner),  # fresh: nulls everywhere optional
        make_request(
            owner,
            status="completed",
            media_type="video",
            provider="openai",
            model_used="gpt-4o-mini",
            original_filename="Straße «clip» \u2603.mp4",
            prompt="é" * 250,  # the preview is cut at 200 characters, not bytes
            retry_count=3,
            completed_at=at,
            latency_ms=0,
            error_code="",
        ),
        make_request(
            owner,
            status="failed",
            media_type="document",
            provider=None,
            model_used="",
            original_filename="",
            prompt='quotes " and \\ backslash\nnew line',
            retry_count=None,
            completed_at=at.replace(microsecond=0) + timedelta(days=400),
            latency_ms=2_147_483_647,
            error_code="provider_timeout",
        ),
    ]


def rendered_both_ways(owner) -> tuple[bytes, bytes]:
    queryset = AnalysisRequest.objects.filter(owner=owner).order_by("created_at", "id")
    by_serializer = JSONRenderer().render(HistoryItemSerializer(list(queryset), many=True).data)
    by_function = JSONRenderer().render(history_items(queryset.values(*HISTORY_COLUMNS)))
    return by_serializer, by_function


def test_lines_are_byte_for_byte_the_serializers(alice):
    varied_rows(alice.user)
    by_serializer, by_function = rendered_both_ways(alice.user)
    assert by_function == by_serializer
    assert b'"retry_count":null' in by_function and b'"completed_at":null' in by_function
    assert b"2024-02-29T23:59:58.123456Z" in by_function


def test_lines_follow_the_current_time_zone_as_the_serializer_does(alice):
    varied_rows(alice.user)
    with timezone.override(ZoneInfo("America/St_Johns")):  # a half-hour offset
        by_serializer, by_function = rendered_both_ways(alice.user)
    assert by_function == by_serializer
    assert b"-03:30" in by_function or b"-02:30" in by_function


def test_the_columns_are_what_a_line_shows():
    shown = set(HistoryItemSerializer().fields) - {"prompt_preview", "status_url"}
    assert set(HISTORY_COLUMNS) == shown | {"prompt"}


def test_the_history_page_is_built_from_the_columns_only(alice):
    varied_rows(alice.user)
    body = alice.client.get(HISTORY, {"ordering": "created_at"}).content
    queryset = AnalysisRequest.objects.filter(owner=alice.user).order_by("created_at", "id")
    expected = HistoryItemSerializer(list(queryset), many=True).data
    assert body.startswith(b'{"count":3,"count_exact":true,"next":null,"previous":null,')
    assert body.endswith(b'"results":' + JSONRenderer().render(expected) + b"}")

"""/metrics: django-prometheus plus the service's gauges, and readiness levels."""

from __future__ import annotations

import re

import pytest

from analysis.api import metrics
from analysis.models import AnalysisResult
from tests.api.conftest import make_completed, make_request
from tests.conftest import SCRAPE

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_counts():
    metrics._domain_cache.update(at=0.0, value=None)


def value(page: str, name: str, **labels) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))  # exposition order
    match = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", page, re.MULTILINE)
    assert match, f"{name}{{{wanted}}} not in /metrics"
    return float(match.group(1))


def test_metrics_count_requests_tokens_cost_breakers_and_queues(alice, client):
    make_completed(alice.user)
    make_completed(alice.user)
    make_request(alice.user, provider="openai")
    AnalysisResult.objects.filter(provider="builtin").update(cost_usd="0.5")
    page = client.get("/metrics", **SCRAPE).content.decode()
    assert "django_http_requests_total_by_method_total" in page  # django-prometheus is still there
    assert value(page, "media_analysis_requests", status="completed", provider="builtin") == 2
    assert value(page, "media_analysis_requests", status="pending", provider="openai") == 1
    assert (
        value(page, "media_analysis_result_tokens_total", provider="builtin", direction="input")
        == 200
    )
    assert (
        value(page, "media_analysis_result_tokens_total", provider="builtin", direction="output")
        == 40
    )
    assert value(page, "media_analysis_result_cost_usd_total", provider="builtin") == 1.0
    assert value(page, "media_analysis_circuit_breaker_state", breaker="database") == 0
    assert value(page, "media_analysis_circuit_breaker_state", breaker="redis") == 0
    assert value(page, "media_analysis_queue_depth", queue="media") >= 0


def test_queue_depth_counts_waiting_messages(
    alice, client, allow_local_media, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            response = alice.client.post(
                "/api/media/analyze",
                {"media_url": "http://127.0.0.1:9/a", "prompt": "p"},
                format="json",
            )
            assert response.status_code == 202
    assert (
        value(
            client.get("/metrics", **SCRAPE).content.decode(),
            "media_analysis_queue_depth",
            queue="media.heavy",  # nothing says what is at that URL: heavy
        )
        == 3
    )


def test_readiness_is_available_with_every_component_up(client, settings, storage_root):
    settings.STORAGE_DISK_WARNING_PERCENT = 100
    settings.STORAGE_DISK_CRITICAL_PERCENT = 100
    response = client.get("/health/ready")
    body = response.json()
    assert response.status_code == 200, body
    assert body["level"] == "available"
    assert body["breakers"] == {"database": "closed", "redis": "closed"}


def test_readiness_is_degraded_not_offline_when_only_the_disk_warns(client, settings, storage_root):
    settings.STORAGE_DISK_WARNING_PERCENT = 1
    settings.STORAGE_DISK_CRITICAL_PERCENT = 100
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["level"] == "degraded"


def test_metrics_need_the_scrape_token_or_staff(client, alice, staff):
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "not_authenticated"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert alice.client.get("/metrics").status_code == 401  # a caller, not staff
    assert staff.client.get("/metrics").status_code == 200
    assert client.get("/metrics", **SCRAPE).status_code == 200


def test_a_scrape_refreshes_storage_per_category_and_readiness_does_not(
    client, settings, storage_root, monkeypatch
):
    from storage_app import disk
    from storage_app.layout import Category
    from storage_app.records import record_media_file
    from storage_app.writer import store_file

    request = make_request(None)
    stored = store_file(b"x" * 123, category=Category.FRAMES, request_id=request.id, name="f.jpg")
    record_media_file(stored, mime_type="image/jpeg")
    monkeypatch.setattr(disk, "_last_category_refresh", 0.0)
    refreshed = []
    monkeypatch.setattr(disk, "refresh_category_gauges", lambda: refreshed.append(1) or {})
    client.get("/health/ready")
    assert refreshed == []  # probes never wait on the database for a metric
    monkeypatch.undo()
    monkeypatch.setattr(disk, "_last_category_refresh", 0.0)
    page = client.get("/metrics", **SCRAPE).content.decode()
    assert value(page, "media_analysis_storage_category_bytes", category="frames") == 123

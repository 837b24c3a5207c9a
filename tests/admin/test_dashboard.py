"""The staff dashboard: the numbers it draws, staff only, and it survives a
missing storage root or provider package."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from analysis import dashboard
from analysis.models import AnalysisRequest, AnalysisStatus
from tests.admin.conftest import make_full_request

pytestmark = pytest.mark.django_db

URL = reverse("admin-dashboard")


@pytest.fixture(autouse=True)
def uncached(settings):
    settings.ADMIN_DASHBOARD_CACHE_SECONDS = 0


def bars(body: str, series: str) -> list[float]:
    return [
        float(value)
        for value in re.findall(rf'data-series="{re.escape(series)}" data-value="([0-9.]+)"', body)
    ]


def test_the_dashboard_shows_every_part(staff_client, storage_root):
    for latency in (100, 200, 300, 400, 1000):
        make_full_request(latency_ms=latency)
    make_full_request(status=AnalysisStatus.FAILED, provider="openai", model_used="gpt-4o-mini")
    response = staff_client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    data = response.context["data"]

    # requests per day by status: today's bar holds 5 completed and 1 failed
    assert data.requests_per_day["completed"][-1] == 5
    assert data.requests_per_day["failed"][-1] == 1
    assert bars(body, "completed")[-1] == 5

    # latency p50/p95 of the completed requests, per provider
    (builtin,) = [row for row in data.latency if row["provider"] == "builtin"]
    assert builtin["p50_ms"] == 300
    assert builtin["p95_ms"] == 880  # percentile_cont interpolates: 400 + 0.8 * 600
    assert bars(body, "p95") == [880]

    # tokens and cost per provider and model
    usage = {(row["provider"], row["model"]): row for row in data.usage}
    assert usage[("builtin", "builtin-report")]["input_tokens"] == 500
    assert usage[("builtin", "builtin-report")]["cost_usd"] == Decimal("0.0075")
    assert usage[("openai", "gpt-4o-mini")]["results"] == 1
    assert "gpt-4o-mini" in body

    # storage per category (6 uploads of 1000 bytes) and the disk gauge
    assert data.storage["uploads"] == 6000
    assert bars(body, "uploads") == [6000]
    assert 'class="gauge-value"' in body and data.disk["level"] in {"ok", "warning", "critical"}

    # circuit breakers, one per known provider
    states = {
        provider: state
        for state, provider in re.findall(
            r'class="breaker breaker-([a-z-]+)" data-provider="([a-z]+)"', body
        )
    }
    assert set(states) >= {"builtin", "openai", "gemini"}
    assert set(states.values()) <= {"closed", "open", "half-open", "unknown"}
    assert states["builtin"] == "closed"


def test_only_the_window_is_counted(staff_client, storage_root, settings):
    settings.ADMIN_DASHBOARD_DAYS = 7
    old = make_full_request()
    AnalysisRequest.objects.filter(pk=old.pk).update(created_at="2020-01-01T00:00:00Z")
    data = staff_client.get(URL).context["data"]
    assert len(data.days) == 7
    assert sum(sum(v) for v in data.requests_per_day.values()) == 0


def test_a_missing_storage_root_is_reported_not_fatal(staff_client, settings, tmp_path):
    settings.STORAGE_ROOT = tmp_path / "not-mounted"
    response = staff_client.get(URL)
    assert response.status_code == 200
    assert any(problem.startswith("disk:") for problem in response.context["data"].problems)
    assert "Unavailable." in response.content.decode()


def test_figures_are_cached_between_page_loads(staff_client, storage_root, settings):
    from django.core.cache import cache

    settings.ADMIN_DASHBOARD_CACHE_SECONDS = 60
    cache.delete(dashboard.CACHE_KEY.format(days=settings.ADMIN_DASHBOARD_DAYS))
    make_full_request()
    first = staff_client.get(URL).context["data"]
    make_full_request()
    second = staff_client.get(URL).context["data"]
    assert second.generated_at == first.generated_at
    assert second.requests_per_day["completed"][-1] == 1
    cache.delete(dashboard.CACHE_KEY.format(days=settings.ADMIN_DASHBOARD_DAYS))


def test_staff_without_the_view_permission_are_refused(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("sam", is_staff=True))
    assert client.get(URL).status_code == 403


def test_the_admin_index_links_to_the_dashboard(staff_client):
    assert URL in staff_client.get(reverse("admin:index")).content.decode()


def test_chart_text_is_escaped():
    from analysis.charts import grouped_bars

    svg = grouped_bars(["<script>x</script>"], {"p50": [1.0]}, title='"><b>')
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert '"><b>' not in svg

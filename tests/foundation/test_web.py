"""The admin console, health endpoints and metrics over Django's test client."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from analysis.models import AnalysisRequest, AnalysisResult
from storage_app.models import ContactSheet, MediaFile
from tests.conftest import SCRAPE

pytestmark = pytest.mark.django_db

ADMIN_MODELS = [
    "analysis/analysisrequest",
    "analysis/analysisresult",
    "storage_app/mediafile",
    "storage_app/contactsheet",
    "audit/auditlogentry",
]


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_user(
        "staff", password="pw-staff-123", is_staff=True, is_superuser=True
    )
    client.force_login(user)
    return client


def test_health_is_dependency_free_and_json(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readiness_reports_each_component(client, settings, tmp_path):
    settings.STORAGE_ROOT = tmp_path
    response = client.get("/health/ready")
    body = response.json()
    assert set(body["components"]) >= {"database", "migrations", "cache", "broker", "disk"}
    assert body["components"]["database"]["status"] == "ok"
    assert body["components"]["migrations"]["status"] == "ok"
    assert body["components"]["cache"]["status"] == "ok"
    assert body["components"]["broker"]["status"] == "ok"
    assert response.status_code == (200 if body["status"] == "ready" else 503)


def test_readiness_says_503_when_a_component_fails(client, settings, tmp_path):
    settings.STORAGE_ROOT = tmp_path / "missing"
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["components"]["disk"]["status"] == "error"


def test_metrics_are_exposed(client):
    response = client.get("/metrics", **SCRAPE)
    assert response.status_code == 200
    assert b"django_http_requests" in response.content


def test_admin_login_page_is_served(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert b"Django administration" in response.content or b"Log in" in response.content


def test_non_staff_user_cannot_enter_the_admin(client):
    user = get_user_model().objects.create_user("caller", password="pw-caller-123")
    client.force_login(user)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.parametrize("model", ADMIN_MODELS)
def test_each_model_has_a_working_admin_list_with_filters_and_search(staff_client, model):
    request = AnalysisRequest.objects.create(
        media_url="https://x/v.mp4", prompt="describe", status="failed"
    )
    AnalysisResult.objects.create(
        request=request, result_text="t", model_used="m", provider="builtin"
    )
    MediaFile.objects.create(
        request=request, filename="original.mp4", storage_path="/s/x", mime_type="video/mp4"
    )
    ContactSheet.objects.create(request=request, storage_path="/s/c.jpg", frames_count=6)
    url = f"/admin/{model}/"
    assert staff_client.get(url).status_code == 200
    assert staff_client.get(url, {"q": str(request.id)}).status_code == 200


def test_request_list_filters_by_status(staff_client):
    failed = AnalysisRequest.objects.create(media_url="u", prompt="find-me-failed", status="failed")
    AnalysisRequest.objects.create(media_url="u", prompt="find-me-done", status="completed")
    response = staff_client.get(
        reverse("admin:analysis_analysisrequest_changelist"), {"status__exact": "failed"}
    )
    assert response.status_code == 200
    assert str(failed.id) in response.content.decode()
    assert "find-me-done" not in response.content.decode()


def test_audit_rows_cannot_be_added_through_the_admin(staff_client):
    assert staff_client.get("/admin/audit/auditlogentry/add/").status_code == 403

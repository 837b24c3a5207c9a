"""An audit entry for each way a change can happen: an API call (DRF, token-style
authentication inside the view), a Celery task, cleanup's bulk updates, and a
management command. The admin's path is in tests/admin/test_request_admin.py."""

from __future__ import annotations

import base64
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import path
from django.utils import timezone
from rest_framework.authentication import BasicAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis import services
from analysis.models import AnalysisRequest, AnalysisStatus
from audit.models import AuditLogEntry
from storage_app.cleanup import run_cleanup
from storage_app.models import MediaFile
from tests.audit.conftest import make_request
from tests.conftest import database_url, run_manage


# ---------------------------------------------------------------------- API
class CancelView(APIView):
    """Stands for an API view: DRF authenticates inside the view, after every
    middleware has run; the entry must still name the user."""

    authentication_classes = [BasicAuthentication]
    permission_classes = [IsAuthenticated]

    def post(self, request, pk):
        services.cancel_request(pk)
        return Response({"ok": True})


urlpatterns = [path("cancel/<uuid:pk>", CancelView.as_view())]


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_an_api_change_names_the_user_the_client_address_and_the_correlation_id(
    client, django_user_model, settings
):
    import ipaddress

    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
    django_user_model.objects.create_user("frank", password="pw-frank-123")
    request = make_request()
    cid = uuid.uuid4()
    response = client.post(
        f"/cancel/{request.pk}",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"frank:pw-frank-123").decode(),
        HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.23",
        HTTP_X_CORRELATION_ID=str(cid),
        REMOTE_ADDR="10.0.0.2",
    )
    assert response.status_code == 200, response.content
    entry = AuditLogEntry.objects.get(record_id=request.pk, action="UPDATE")
    assert entry.new_values["status"] == "cancelled"
    assert entry.performed_by == "frank"
    assert entry.ip_address == "198.51.100.23"
    assert entry.correlation_id == cid


@pytest.mark.django_db
def test_the_real_api_records_submit_and_cancel_by_the_token_owner(
    django_user_model, settings, tmp_path
):
    import ipaddress

    from rest_framework.test import APIClient

    from analysis.models_api import ApiToken

    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
    settings.MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS = True
    settings.STORAGE_ROOT = tmp_path
    user = django_user_model.objects.create_user("heidi")
    _, token = ApiToken.issue(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    headers = {"HTTP_X_FORWARDED_FOR": "198.51.100.77", "REMOTE_ADDR": "10.9.9.9"}
    cid = uuid.uuid4()
    submitted = client.post(
        "/api/media/analyze",
        {"media_url": "http://127.0.0.1:9/clip.mp4", "prompt": "Describe"},
        format="json",
        HTTP_X_CORRELATION_ID=str(cid),
        **headers,
    )
    assert submitted.status_code == 202, submitted.content
    request = AnalysisRequest.objects.get(owner=user)
    cancelled = client.post(f"/api/media/{request.pk}/cancel", **headers)
    assert cancelled.status_code == 200, cancelled.content
    insert, update = AuditLogEntry.objects.filter(record_id=request.pk).order_by("created_at")
    assert (insert.action, update.action) == ("INSERT", "UPDATE")
    assert insert.performed_by == update.performed_by == "heidi"
    assert insert.ip_address == update.ip_address == "198.51.100.77"
    assert insert.correlation_id == cid
    assert update.correlation_id not in (None, cid)  # the API gave the second call its own
    assert update.new_values["status"] == "cancelled"


# --------------------------------------------------------------------- task
@pytest.mark.django_db
def test_a_task_change_is_made_by_the_tasks_system_actor():
    from analysis.tasks import recover_requests

    request = make_request(status=AnalysisStatus.PROCESSING)
    AnalysisRequest.objects.filter(pk=request.pk).update(
        started_at=timezone.now() - timedelta(days=1)
    )
    recover_requests.apply()
    entry = AuditLogEntry.objects.get(record_id=request.pk, action="UPDATE")
    assert entry.new_values["status"] == "pending"
    assert entry.performed_by == "system:pipeline"
    assert entry.ip_address is None


# ------------------------------------------------------------------ cleanup
@pytest.mark.django_db
def test_cleanup_batches_are_audited_as_the_cleanup_actor(tmp_path, settings):
    settings.STORAGE_ROOT = tmp_path
    request = make_request()
    relative = f"uploads/2020-01-01/{request.pk}/clip.mp4"
    (tmp_path / relative).parent.mkdir(parents=True)
    (tmp_path / relative).write_bytes(b"old media")
    expired = MediaFile.objects.create(
        request=request,
        filename="clip.mp4",
        storage_path=str(tmp_path / relative),
        relative_path=relative,
        size_bytes=9,
        expires_at=timezone.now() - timedelta(days=1),
    )
    report = run_cleanup(actor="system:cleanup", categories=["uploads"])
    assert report.total.rows_marked == 1
    entry = AuditLogEntry.objects.get(record_id=expired.pk, action="UPDATE")
    assert entry.performed_by == "system:cleanup"
    assert entry.parent_record_id == request.pk
    assert entry.old_values == {"deleted_at": None}
    assert entry.new_values["deleted_at"] is not None


# ------------------------------------------------------------------ command
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_management_command_is_a_named_system_actor():
    request = make_request()
    env = {"DATABASE_URL": database_url(connection.settings_dict["NAME"]), "DB_POOL": "false"}
    run_manage(
        "shell",
        "-c",
        f"from analysis import services; services.soft_delete_request('{request.pk}')",
        env=env,
    )
    entry = AuditLogEntry.objects.get(record_id=request.pk, action="UPDATE")
    assert entry.new_values["status"] == "deleted"
    assert entry.performed_by == "system:command:shell"


# ---------------------------------------------------------------- a worker


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_records_the_pipeline_with_the_submitters_correlation_id(
    tmp_path, settings, celery_worker
):
    from media_analysis.context import acting_as
    from tests.processing.media_factory import make_image

    settings.STORAGE_ROOT = tmp_path / "storage"
    image = make_image(tmp_path / "photo.jpg", size=(320, 200))
    cid = uuid.uuid4()
    with acting_as("grace", correlation_id=cid):
        request = services.submit_upload_request(
            chunks=[image.read_bytes()],
            original_filename="photo.jpg",
            prompt="Describe",
            correlation_id=cid,
        )
    deadline = timezone.now() + timedelta(seconds=60)
    while timezone.now() < deadline:
        request.refresh_from_db()
        if request.status in ("completed", "failed"):
            break
        time.sleep(0.2)
    assert request.status == "completed", (request.error_code, request.error_message)
    trail = list(AuditLogEntry.objects.for_record(request.pk).order_by("created_at"))
    submitted = [e for e in trail if e.performed_by == "grace"]
    by_worker = [e for e in trail if e.performed_by == "system:pipeline"]
    assert {e.action for e in submitted} == {"INSERT"}
    assert {e.table_name for e in by_worker} >= {
        "media_analysis_requests",
        "media_analysis_results",
        "media_files",
    }
    assert {e.correlation_id for e in trail} == {cid}
    statuses = [
        e.new_values.get("status")
        for e in by_worker
        if e.new_values and e.table_name == "media_analysis_requests"
    ]
    assert "processing" in statuses and "completed" in statuses

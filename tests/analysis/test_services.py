"""The state rules of analysis requests, through the service functions every
door (API, admin, tasks, commands) uses."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from django.db import connection

from analysis import services
from analysis.models import AnalysisRequest, AnalysisStatus
from analysis.services import InvalidRequest, RequestNotFound, StateConflict
from tests.conftest import database_url

pytestmark = pytest.mark.django_db


def _enqueued(callbacks) -> int:
    """How many of the captured on-commit callbacks queue the analysis task."""
    return sum("publish_after_commit" in callback.__qualname__ for callback in callbacks)


def _request(**fields) -> AnalysisRequest:
    return AnalysisRequest.objects.create(
        media_url="https://example.org/v.mp4", prompt="p", **fields
    )


@pytest.fixture
def public_example(settings):
    # example.org may not resolve here; the address rule is tested in tests/ingest.
    settings.MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS = True


# ------------------------------------------------------------------ submit
@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"prompt": ""}, "prompt_required", "prompt"),
        ({"prompt": "   "}, "prompt_required", "prompt"),
        ({"prompt": None}, "prompt_required", "prompt"),
        ({"prompt": "x" * 10_001}, "prompt_too_long", "prompt"),
        ({"prompt": "a\x00b"}, "prompt_invalid", "prompt"),
        ({"provider": "skynet"}, "unknown_provider", "provider"),
        ({"model": "m" * 101}, "invalid_model", "model"),
        ({"media_type": "hologram"}, "invalid_media_type", "media_type"),
        ({"options": {"grid": "0x3"}}, "invalid_grid", "options.grid"),
        ({"options": {"grid": "2x3", "frames": 7}}, "invalid_frames", "options.frames"),
        ({"options": {"resolution": "99999x1"}}, "invalid_resolution", "options.resolution"),
        ({"options": {"force": "yes"}}, "invalid_force", "options.force"),
        ({"options": {"colour": "red"}}, "unknown_option", "options"),
        ({"media_url": "ftp://example.org/a.mp4"}, "url_scheme_not_allowed", "media_url"),
        ({"media_url": "file:///etc/passwd"}, "url_scheme_not_allowed", "media_url"),
        ({"media_url": ""}, "media_url_required", "media_url"),
    ],
)
def test_bad_input_is_refused_with_a_named_problem_and_nothing_stored(fields, code, field):
    arguments = {"media_url": "https://93.184.215.14/a.mp4", "prompt": "describe", **fields}
    with pytest.raises(InvalidRequest) as raised:
        services.submit_url_request(**arguments)
    assert raised.value.code == code
    assert raised.value.field == field
    assert raised.value.http_status == 400
    assert AnalysisRequest.objects.count() == 0


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/a.mp4", "http://169.254.169.254/latest/meta-data", "http://10.0.0.8/x"],
)
def test_private_addresses_are_refused_at_submit(url):
    with pytest.raises(InvalidRequest) as raised:
        services.submit_url_request(media_url=url, prompt="describe")
    assert raised.value.code == "url_private_address"
    assert AnalysisRequest.objects.count() == 0


def test_submit_records_a_pending_request_with_its_options(
    public_example, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        request = services.submit_url_request(
            media_url="http://127.0.0.1:9/a.mp4",
            prompt="  describe  ",
            options={"grid": "3x3", "frames": 9},
        )
    request.refresh_from_db()
    assert request.status == AnalysisStatus.PENDING
    assert request.prompt == "describe"
    assert request.provider == "builtin"
    assert request.metadata["options"] == {
        "frames": 9,
        "grid": "3x3",
        "resolution": "1920x1080",
        "force": False,
    }
    assert _enqueued(callbacks) == 1  # the task is queued only after commit


# ------------------------------------------------------------ transitions
@pytest.mark.parametrize("status", [AnalysisStatus.FAILED, AnalysisStatus.CANCELLED])
def test_retry_puts_failed_or_cancelled_back_to_pending(status, django_capture_on_commit_callbacks):
    request = _request(status=status, error_code="x", error_message="y", retry_count=2)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.retry_request(request.id)
    request.refresh_from_db()
    assert (request.status, request.retry_count, request.error_code) == ("pending", 3, None)
    assert _enqueued(callbacks) == 1


@pytest.mark.parametrize("status", ["pending", "processing", "completed"])
def test_retry_refuses_other_states(status):
    request = _request(status=status)
    with pytest.raises(StateConflict) as raised:
        services.retry_request(request.id)
    assert raised.value.http_status == 409
    assert status in raised.value.message
    request.refresh_from_db()
    assert request.status == status


def test_retry_stops_at_ten():
    request = _request(status="failed", retry_count=10)
    with pytest.raises(StateConflict, match="10 times"):
        services.retry_request(request.id)
    request.refresh_from_db()
    assert request.retry_count == 10


@pytest.mark.parametrize("status", ["pending", "processing"])
def test_cancel(status):
    request = _request(status=status)
    services.cancel_request(request.id)
    request.refresh_from_db()
    assert request.status == "cancelled"
    assert request.completed_at is not None


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_cancel_refuses_finished_requests(status):
    request = _request(status=status)
    with pytest.raises(StateConflict):
        services.cancel_request(request.id)


def test_soft_delete_hides_and_restore_brings_back():
    request = _request(status="completed")
    services.soft_delete_request(request.id)
    request.refresh_from_db()
    assert request.status == "deleted"
    assert request.deleted_at is not None
    with pytest.raises(RequestNotFound):
        services.retry_request(request.id)  # deleted requests are gone for every other action
    services.restore_request(request.id)
    request.refresh_from_db()
    assert request.status == "completed"
    assert request.deleted_at is None
    assert "status_before_delete" not in request.metadata


def test_unknown_and_malformed_ids_are_not_found():
    for request_id in (uuid.uuid4(), "not-a-uuid"):
        with pytest.raises(RequestNotFound):
            services.cancel_request(request_id)


def test_a_dead_run_is_recovered_a_live_one_is_left_and_too_many_deaths_fail(
    django_capture_on_commit_callbacks,
):
    from datetime import timedelta

    from django.utils import timezone

    from analysis.recovery import advisory_key, recover_abandoned

    long_ago = timezone.now() - timedelta(minutes=5)
    orphan = _request(status="processing", started_at=long_ago, heartbeat_at=long_ago)
    hopeless = _request(
        status="processing",
        started_at=long_ago,
        heartbeat_at=long_ago,
        metadata={"recoveries": 3},
    )
    slow_but_alive = _request(status="processing", started_at=long_ago, heartbeat_at=long_ago)
    fresh = _request(status="processing", started_at=long_ago, heartbeat_at=timezone.now())
    # A live run elsewhere holds its run lock on a connection of its own (advisory
    # locks belong to a database: the test database).
    with psycopg.connect(database_url(connection.settings_dict["NAME"])) as other_session:
        other_session.execute("SELECT pg_advisory_lock(%s)", [advisory_key(slow_but_alive.id)])
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            counts = recover_abandoned()
    assert counts == {"recovered": 1, "failed_worker_lost": 1, "alive": 1}
    for request in (orphan, hopeless, slow_but_alive, fresh):
        request.refresh_from_db()
    assert orphan.status == "pending"
    assert orphan.retry_count == 0  # the caller's retries are untouched
    assert orphan.metadata["recoveries"] == 1
    assert orphan.metadata["last_recovery"]["reason"] == "heartbeat_expired"
    assert orphan.outbox_entry.sent_at is None
    assert (hopeless.status, hopeless.error_code) == ("failed", "worker_lost")
    assert slow_but_alive.status == "processing"
    assert fresh.status == "processing"
    assert _enqueued(callbacks) == 1


def test_a_url_submission_is_refused_by_a_full_disk_whichever_door(settings, tmp_path):
    from storage_app.disk import InsufficientStorageError

    settings.STORAGE_ROOT = tmp_path
    settings.STORAGE_DISK_WARNING_PERCENT = settings.STORAGE_DISK_CRITICAL_PERCENT = 1
    settings.MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS = True
    with pytest.raises(InsufficientStorageError):
        services.submit_url_request(media_url="https://93.184.215.14/a.mp4", prompt="p")
    assert not AnalysisRequest.objects.exists()

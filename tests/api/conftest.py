"""Fixtures for the API tests: real PostgreSQL and Redis (this suite's own Redis
database, flushed before each test), a storage root of its own, users with tokens."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_redis import get_redis_connection
from PIL import Image
from rest_framework.test import APIClient

from analysis.models import AnalysisRequest, AnalysisResult, AnalysisStatus
from analysis.models_api import ApiToken
from media_analysis.embedded import RedisServer, free_port
from media_analysis.resilience import reset_breakers
from storage_app.layout import CONTACT_SHEET_NAME, Category
from storage_app.records import record_contact_sheet
from storage_app.writer import store_file
from tests.api.fault_servers import OwnPostgres

# Fetched by the submit tests; the address rule itself is tested in tests/ingest.
MEDIA_URL = "http://127.0.0.1:9/clip.mp4"


@pytest.fixture(autouse=True)
def clean_redis():
    """Each test starts with an empty cache, closed breakers and fresh throttles."""
    get_redis_connection("default").flushdb()
    reset_breakers()
    yield
    reset_breakers()


@pytest.fixture(autouse=True)
def _own_storage_root(storage_root):
    """Every API test writes into a storage root of its own (tests/conftest.py)."""


@pytest.fixture
def allow_local_media(settings):
    settings.MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS = True


@dataclass
class Caller:
    user: object
    token: str
    client: APIClient


def make_caller(username: str, *, staff: bool = False, scheme: str = "Token") -> Caller:
    user = get_user_model().objects.create_user(username, is_staff=staff)
    _, token = ApiToken.issue(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {token}")
    return Caller(user, token, client)


@pytest.fixture
def alice(db) -> Caller:
    return make_caller("alice")


@pytest.fixture
def bob(db) -> Caller:
    return make_caller("bob")


@pytest.fixture
def staff(db) -> Caller:
    return make_caller("root", staff=True)


def make_request(owner, **fields) -> AnalysisRequest:
    values = {
        "media_url": MEDIA_URL,
        "prompt": "describe the clip",
        "provider": "builtin",
        "metadata": {
            "options": {"frames": 6, "grid": "2x3", "resolution": "1920x1080", "force": False}
        },
        **fields,
    }
    return AnalysisRequest.objects.create(owner=owner, **values)


def jpeg_bytes(size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buffer, format="JPEG")
    return buffer.getvalue()


def make_completed(owner, **fields) -> AnalysisRequest:
    """A completed request with its result row and a real contact sheet on disk."""
    request = make_request(
        owner,
        status=AnalysisStatus.COMPLETED,
        media_type="video",
        model_used="builtin-report",
        started_at=timezone.now(),
        completed_at=timezone.now(),
        latency_ms=1234,
        **fields,
    )
    AnalysisResult.objects.create(
        request=request,
        result_text="A red square.",
        model_used="builtin-report",
        provider="builtin",
        input_tokens=100,
        output_tokens=20,
        cost_usd="0.001250",
        latency_ms=800,
    )
    stored = store_file(
        jpeg_bytes(),
        category=Category.CONTACT_SHEETS,
        request_id=request.id,
        name=CONTACT_SHEET_NAME,
    )
    record_contact_sheet(stored, frames_count=6, grid_layout="2x3", resolution="1920x1080")
    return request


def error_of(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] and body["error"]["message"]
    return body["error"]


def new_id() -> str:
    return str(uuid.uuid4())


# ------------------------------------------------- servers a fault test owns
@pytest.fixture
def own_postgres():
    """A PostgreSQL of the test's own, to stop and start (never the machine's)."""
    server = OwnPostgres()
    yield server
    server.cleanup()


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of the test's own on a TCP port, to stop and start."""
    server = RedisServer(tmp_path / "redis", port=free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def count_budget_of_a_second(settings):
    """For tests of what a history page's ``count`` says, not of its time budget (a
    few ms of statement timeout a loaded CI host can run out of on any count); the
    budget running out has tests of its own."""
    settings.HISTORY_COUNT_BUDGET_MS = 1000

"""Staff, non-staff and superusers for the console tests; requests with results,
files and a real contact sheet image under a storage root of the test's own."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from PIL import Image

from analysis.models import AnalysisRequest, AnalysisResult, AnalysisStatus
from storage_app.models import ContactSheet, MediaFile

STAFF_PERMISSIONS = [
    ("analysis", "view_analysisrequest"),
    ("analysis", "change_analysisrequest"),
    ("analysis", "view_analysisresult"),
    ("storage_app", "view_mediafile"),
    ("storage_app", "view_contactsheet"),
    ("audit", "view_auditlogentry"),
]
PASSWORD = "a-long-test-password-1"


@pytest.fixture
def staff(django_user_model):
    user = django_user_model.objects.create_user("stella", password=PASSWORD, is_staff=True)
    for app_label, codename in STAFF_PERMISSIONS:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def superuser_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password=PASSWORD))
    return client


@pytest.fixture
def outsider_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("olga", password=PASSWORD))
    return client


def jpeg_bytes(size=(60, 40), colour=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG")
    return buffer.getvalue()


def make_full_request(root: Path | None = None, **fields) -> AnalysisRequest:
    """A completed video request with a result, a media file and a contact sheet
    (whose image exists on disk when ``root`` is given)."""
    fields = {
        "media_url": "https://example.org/clip.mp4",
        "prompt": "Describe the clip",
        "original_filename": "clip.mp4",
        "status": AnalysisStatus.COMPLETED,
        "media_type": "video",
        "provider": "builtin",
        "model_used": "builtin-report",
        "latency_ms": 1234,
        **fields,
    }
    request = AnalysisRequest.objects.create(**fields)
    AnalysisResult.objects.create(
        request=request,
        result_text="A red square.",
        model_used=fields["model_used"] or "m",
        provider=fields["provider"],
        input_tokens=100,
        output_tokens=20,
        cost_usd="0.001500",
        latency_ms=800,
    )
    MediaFile.objects.create(
        request=request,
        filename="clip.mp4",
        storage_path="/nowhere/clip.mp4",
        relative_path=f"uploads/2026-01-01/{request.pk}/clip.mp4",
        size_bytes=1000,
    )
    relative = f"contact-sheets/2026-01-01/{request.pk}/contact_sheet.jpg"
    if root is not None:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(jpeg_bytes())
    ContactSheet.objects.create(
        request=request,
        storage_path=str((root or Path("/nowhere")) / relative),
        relative_path=relative,
        frames_count=6,
    )
    return request

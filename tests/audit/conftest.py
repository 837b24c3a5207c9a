"""Fixtures for the audit tests: requests and their children, made directly."""

from __future__ import annotations

import pytest

from analysis.models import AnalysisRequest, AnalysisResult
from storage_app.models import ContactSheet, MediaFile


def make_request(**fields) -> AnalysisRequest:
    return AnalysisRequest.objects.create(
        media_url="https://example.org/clip.mp4", prompt="Describe it", **fields
    )


def make_children(request: AnalysisRequest) -> tuple[AnalysisResult, MediaFile, ContactSheet]:
    result = AnalysisResult.objects.create(
        request=request,
        result_text="A cat.",
        model_used="m-1",
        provider="builtin",
        input_tokens=10,
        output_tokens=5,
        cost_usd="0.000100",
    )
    media = MediaFile.objects.create(
        request=request,
        filename="clip.mp4",
        storage_path="/x/uploads/clip.mp4",
        relative_path=f"uploads/2026-01-01/{request.id}/clip.mp4",
        size_bytes=10,
    )
    sheet = ContactSheet.objects.create(
        request=request,
        storage_path="/x/sheet.jpg",
        relative_path=f"contact-sheets/2026-01-01/{request.id}/contact_sheet.jpg",
        frames_count=6,
    )
    return result, media, sheet


@pytest.fixture
def analysis_request(db) -> AnalysisRequest:
    return make_request()

"""Text read from pictures in the status response (issue 13): ``ocr`` lists each
picture's source, number, text and confidence from the stored facts; empty before
completion, without OCR facts, and for facts of an unexpected shape. Submitting
``options.ocr`` is checked."""

from __future__ import annotations

import pytest

from analysis.models import AnalysisRequest
from tests.api.conftest import MEDIA_URL, error_of, make_completed, make_request

pytestmark = pytest.mark.django_db

READINGS = [
    {
        "source": "page 1",
        "number": 1,
        "text": "Invoice 2026-0042",
        "confidence": 0.98,
        "lines": 1,
        "time_ms": 812.0,
    },
    {"source": "page 2", "number": 2, "text": "", "confidence": None, "lines": 0, "time_ms": 90.0},
]


def _with_ocr(owner, ocr):
    request = make_completed(owner)
    request.metadata = {**request.metadata, "facts": {"ocr": ocr}}
    request.save(update_fields=["metadata"])
    return request


def test_the_status_lists_what_ocr_read(alice):
    request = _with_ocr(alice.user, {"engine": "rapidocr-onnxruntime", "readings": READINGS})

    body = alice.client.get(f"/api/media/status/{request.id}").json()

    assert body["ocr"] == [
        {"source": "page 1", "number": 1, "text": "Invoice 2026-0042", "confidence": 0.98},
        {"source": "page 2", "number": 2, "text": "", "confidence": None},
    ]


def test_no_ocr_lists_nothing(alice):
    pending = make_request(alice.user)
    assert alice.client.get(f"/api/media/status/{pending.id}").json()["ocr"] == []
    completed = make_completed(alice.user)  # facts without ocr
    assert alice.client.get(f"/api/media/status/{completed.id}").json()["ocr"] == []
    odd = _with_ocr(alice.user, {"readings": "not a list"})
    assert alice.client.get(f"/api/media/status/{odd.id}").json()["ocr"] == []


def _submit(caller, options):
    return caller.client.post(
        "/api/media/analyze",
        {"media_url": MEDIA_URL, "prompt": "Read it", "options": options},
        format="json",
    )


def test_submit_checks_the_ocr_option(alice, allow_local_media, settings):
    bad = _submit(alice, {"ocr": "yes"})
    assert bad.status_code == 400 and error_of(bad)["field"] == "options.ocr"

    settings.OCR_ENABLED = False
    off = _submit(alice, {"ocr": True})
    assert off.status_code == 400
    assert error_of(off)["code"] == "ocr_disabled" and "OCR_ENABLED" in error_of(off)["message"]
    accepted = _submit(alice, {"ocr": False})
    assert accepted.status_code == 202
    stored = AnalysisRequest.objects.get(pk=accepted.json()["id"]).metadata["options"]
    assert stored["ocr"] is False

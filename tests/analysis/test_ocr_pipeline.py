"""Text in pictures through the pipeline (issue 13), run in-process on real files
with real PostgreSQL and real OCR: what was read reaches the stored facts, the
status response (``ocr``), the built-in report (quoted) and a model's prompt (as
untrusted data); ``options.ocr=false`` reads nothing."""

from __future__ import annotations

import json

import pytest

from analysis import services
from analysis.api.serializers import StatusSerializer
from analysis.models import AnalysisRequest, AnalysisResult
from analysis.pipeline import run_analysis
from tests.analysis.conftest import chunks_of
from tests.processing.test_ocr import PAGE_LINES, scanned_pdf, text_image

pytestmark = pytest.mark.django_db(transaction=True)


def _upload(path, prompt="What does the text say?", **fields) -> AnalysisRequest:
    return services.submit_upload_request(
        chunks=chunks_of(path), original_filename=path.name, prompt=prompt, **fields
    )


def test_an_image_s_text_reaches_facts_status_and_the_built_in_report(storage_root, tmp_path):
    request = _upload(text_image(tmp_path / "invoice.png"))

    assert run_analysis(request.id) == "completed"

    request.refresh_from_db()
    (reading,) = request.metadata["facts"]["ocr"]["readings"]
    assert "2026-0042" in reading["text"] and "1,234.56" in reading["text"]
    status = StatusSerializer(request).data
    assert status["ocr"] == [
        {
            "source": "image",
            "number": None,
            "text": reading["text"],
            "confidence": reading["confidence"],
        }
    ]
    report = AnalysisResult.objects.get(request=request).result_text
    assert "Text read from the pictures (OCR" in report
    assert f'- image (confidence {reading["confidence"]:.2f}): "{reading["text"]}"' in report
    assert "Text in pictures (OCR): 1 line(s) read from 1 of 1 picture(s)" in report
    (result_json,) = storage_root.glob(f"outputs/*/{request.id}/result.json")
    assert json.loads(result_json.read_text())["facts"]["ocr"]["readings"][0] == reading


def test_a_scanned_pdf_s_pages_are_quoted_page_by_page(storage_root, tmp_path):
    pdf = scanned_pdf(tmp_path / "scan.pdf", [PAGE_LINES, ("Second page: payment by 2026-12-31",)])
    request = _upload(pdf)

    assert run_analysis(request.id) == "completed"

    request.refresh_from_db()
    status = StatusSerializer(request).data
    assert [(item["source"], item["number"]) for item in status["ocr"]] == [
        ("page 1", 1),
        ("page 2", 2),
    ]
    assert "Scanned page without a text layer" in status["ocr"][0]["text"]
    report = AnalysisResult.objects.get(request=request).result_text
    assert "- page 1 (confidence" in report and "Scanned page without a text layer" in report
    assert "2026-12-31" in report


def test_ocr_false_reads_nothing_and_the_status_lists_nothing(storage_root, tmp_path):
    request = _upload(text_image(tmp_path / "invoice.png"), options={"ocr": False})

    assert run_analysis(request.id) == "completed"

    request.refresh_from_db()
    assert request.metadata["options"]["ocr"] is False
    assert "ocr" not in request.metadata["facts"]
    assert StatusSerializer(request).data["ocr"] == []
    assert "OCR" not in AnalysisResult.objects.get(request=request).result_text


def test_the_master_switch_off_reads_nothing(storage_root, tmp_path, settings):
    settings.OCR_ENABLED = False
    request = _upload(text_image(tmp_path / "invoice.png"))

    assert run_analysis(request.id) == "completed"

    request.refresh_from_db()
    assert "ocr" not in request.metadata["facts"]


def test_the_text_reaches_a_model_s_prompt_as_untrusted_data(
    storage_root, tmp_path, httpserver, settings
):
    settings.OPENAI_BASE_URL = httpserver.url_for("/v1")
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_MODEL = "gpt-4o-mini"
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_json(
        {
            "model": "gpt-4o-mini",
            "choices": [{"message": {"role": "assistant", "content": "An invoice."}}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 5},
        }
    )
    request = _upload(text_image(tmp_path / "invoice.png"), provider="openai")

    assert run_analysis(request.id) == "completed"

    (call,) = [entry for entry, _ in httpserver.log]
    body = call.get_json()
    user_text = "\n".join(
        part["text"]
        for message in body["messages"]
        if message["role"] == "user"
        for part in (
            message["content"]
            if isinstance(message["content"], list)
            else [{"type": "text", "text": message["content"]}]
        )
        if part.get("type") == "text"
    )
    assert "Text read from the pictures by OCR" in user_text
    start = user_text.index("<<<UNTRUSTED_MEDIA_OCR id=")
    end = user_text.index("<<<END_UNTRUSTED_MEDIA_OCR id=")
    fenced = user_text[start:end]
    assert "[image, confidence" in fenced and "2026-0042" in fenced and "1,234.56" in fenced
    # The facts block points at it instead of repeating the text.
    assert '"text": "(in the OCR block)"' in user_text

"""Text in pictures end to end (issue 13): the real web and Celery worker
processes, a rendered text image and a scanned PDF uploaded over HTTP, read for
real by the worker's OCR. The status response lists what was read per picture
and the built-in report quotes it."""

from __future__ import annotations

import pytest

from tests.conftest import wait_until
from tests.operations.stack import submit_upload
from tests.processing.test_ocr import PAGE_LINES, scanned_pdf, text_image

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_worker_reads_an_image_and_a_scanned_page(stack, tmp_path):
    image = text_image(tmp_path / "invoice.png")
    pdf = scanned_pdf(tmp_path / "scan.pdf", [PAGE_LINES])
    stack.start_web()
    stack.start_worker()
    bodies = []
    with stack.api() as api:
        for path in (image, pdf):
            response = submit_upload(api, path, prompt="What does the text say?")
            assert response.status_code == 202, response.text
            status_url = response.json()["links"]["status"]
            wait_until(
                lambda url=status_url: api.get(url).json()["status"] in ("completed", "failed"),
                90,
                "the analysis",
            )
            bodies.append(api.get(status_url).json())

    for body in bodies:
        assert body["status"] == "completed", (body["error"], stack.logs())
    image_body, pdf_body = bodies
    (read,) = image_body["ocr"]
    assert read["source"] == "image" and read["confidence"] > 0.8
    assert "2026-0042" in read["text"] and "1,234.56 EUR" in read["text"]
    assert read["text"] in image_body["result"]["text"]
    (page,) = pdf_body["ocr"]
    assert (page["source"], page["number"]) == ("page 1", 1)
    assert "Scanned page without a text layer" in page["text"]
    assert "Scanned page without a text layer" in pdf_body["result"]["text"]

"""Text in pictures (issue 13), read for real by rapidocr-onnxruntime (no mocks):
a rendered text image and a text-less PDF page come back with their words, with
confidence and time; the switches, the picture cap and the time budget hold.

Run with ``-s`` to see the OCR time per picture."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from analysis.processing import ProcessingOptions, process_media
from analysis.processing.ocr import OcrTarget, get_engine, read_pictures

INVOICE = "Invoice 2026-0042: total due 1,234.56 EUR"
PAGE_LINES = ("Scanned page without a text layer", "Invoice 2026-0042", "Total due 1,234.56 EUR")


def _font(size: int) -> ImageFont.FreeTypeFont:
    # Pillow's bundled TrueType font: the same on every machine, no fc-list needed.
    return ImageFont.load_default(size=size)


def text_image(path: Path, text: str = INVOICE, size: tuple[int, int] = (1000, 160)) -> Path:
    picture = Image.new("RGB", size, "white")
    ImageDraw.Draw(picture).text((20, 50), text, fill="black", font=_font(36))
    picture.save(path)
    return path


def scanned_pdf(path: Path, pages: list[tuple[str, ...]]) -> Path:
    """A PDF whose pages are only pictures (A4 at 150 dpi), so no text layer."""
    pictures = []
    for lines in pages:
        page = Image.new("RGB", (1240, 1754), "white")
        draw = ImageDraw.Draw(page)
        for row, line in enumerate(lines):
            draw.text((100, 200 + row * 90), line, fill="black", font=_font(40))
        pictures.append(page)
    pictures[0].save(path, save_all=True, append_images=pictures[1:], resolution=150)
    return path


def words(text: str) -> set[str]:
    return set(text.replace(":", " ").split())


def test_a_rendered_text_image_comes_back_with_its_words(tmp_path):
    image = text_image(tmp_path / "invoice.png")

    outcome = process_media(image, None, tmp_path / "work")

    ocr = outcome.facts.ocr
    assert ocr is not None and ocr.error is None
    (reading,) = ocr.readings
    assert reading.source == "image" and reading.number is None
    assert {"Invoice", "2026-0042", "total", "due", "1,234.56", "EUR"} <= words(reading.text)
    assert 0.8 <= reading.confidence <= 1.0
    assert reading.lines == 1
    stored = outcome.facts.as_dict()
    assert stored["ocr"]["readings"][0]["text"] == reading.text
    assert "ocr_ms" in stored["timings_ms"]
    print(f"\nOCR of a 1000x160 text image: {reading.time_ms:.0f} ms")


def test_a_text_less_pdf_page_comes_back_with_its_words(tmp_path):
    pdf = scanned_pdf(tmp_path / "scan.pdf", [PAGE_LINES, ("Second page, still a picture",)])

    outcome = process_media(pdf, None, tmp_path / "work")

    facts = outcome.facts
    assert facts.details.pages_with_text == 0 and facts.details.rendered_pages == (1, 2)
    first, second = facts.ocr.readings
    assert (first.source, first.number, second.source, second.number) == ("page 1", 1, "page 2", 2)
    # Substrings, not words: a rendered page is a JPEG, whose compression can blur
    # the gap between two words ("Invoice2026-0042").
    for part in ("Scanned page", "text layer", "Invoice", "2026-0042", "1,234.56 EUR"):
        assert part in first.text
    assert first.lines == 3 and first.confidence >= 0.8
    assert "Second" in second.text
    for reading in (first, second):
        print(f"\nOCR of an A4 page at 150 dpi ({reading.source}): {reading.time_ms:.0f} ms")


def test_ocr_false_reads_nothing(tmp_path):
    image = text_image(tmp_path / "invoice.png")
    pdf = scanned_pdf(tmp_path / "scan.pdf", [PAGE_LINES])
    off = ProcessingOptions(ocr_images=False, ocr_pages=False)

    assert "ocr" not in process_media(image, None, tmp_path / "a", off).facts.as_dict()
    facts = process_media(pdf, None, tmp_path / "b", off).facts
    assert facts.ocr is None and "ocr_ms" not in facts.timings_ms
    # The pages are still rendered for a vision model.
    assert facts.details.rendered_pages == (1,)


def test_frames_are_read_only_when_asked(video_mp4, tmp_path):
    default = process_media(video_mp4, None, tmp_path / "a", ProcessingOptions(frames_count=2))
    assert default.facts.ocr is None

    asked = process_media(
        video_mp4, None, tmp_path / "b", ProcessingOptions(frames_count=2, ocr_frames=True)
    )
    sources = [reading.source for reading in asked.facts.ocr.readings]
    assert sources == [f"frame {frame.index}" for frame in asked.facts.frames]


def test_pictures_past_the_cap_are_skipped_and_counted(tmp_path):
    pdf = scanned_pdf(tmp_path / "scan.pdf", [("First page",), ("Second page",), ("Third",)])

    facts = process_media(pdf, None, tmp_path / "work", ProcessingOptions(ocr_max_images=1)).facts

    assert [reading.source for reading in facts.ocr.readings] == ["page 1"]
    assert facts.ocr.skipped_over_cap == 2 and facts.ocr.skipped_for_time == 0
    assert facts.details.rendered_pages == (1, 2, 3)  # rendering has its own cap


def test_the_time_budget_stops_reading(tmp_path):
    """A budget of 3 x 0.01 s is spent by the first picture (each takes far longer):
    the other two are not started, and the run ends within one picture's time."""
    targets = [
        OcrTarget(f"page {n}", n, text_image(tmp_path / f"p{n}.png", f"Page {n} of three"))
        for n in (1, 2, 3)
    ]
    get_engine()  # loaded once per process, outside the budget
    started = time.perf_counter()

    ocr = read_pictures(targets, max_images=3, seconds_per_image=0.01)

    elapsed = time.perf_counter() - started
    assert len(ocr.readings) == 1 and "Page 1" in ocr.readings[0].text
    assert ocr.skipped_for_time == 2 and ocr.skipped_over_cap == 0
    assert elapsed < 0.03 + ocr.readings[0].time_ms / 1000 + 0.5


def test_a_picture_that_cannot_be_read_is_recorded_not_raised(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    good = text_image(tmp_path / "good.png", "Still readable")

    ocr = read_pictures(
        [OcrTarget("page 1", 1, broken), OcrTarget("page 2", 2, good)],
        max_images=8,
        seconds_per_image=10,
    )

    first, second = ocr.readings
    assert first.error == "UnidentifiedImageError" and first.text == ""
    assert "readable" in second.text


def test_large_pictures_are_shrunk_before_reading(tmp_path):
    """A 6000 px wide picture is read at 1600 px: the per-picture time stays bounded."""
    big = Image.new("RGB", (6000, 3000), "white")
    ImageDraw.Draw(big).text((200, 1200), "Large banner 2026", fill="black", font=_font(260))
    big.save(tmp_path / "big.png")

    ocr = read_pictures(
        [OcrTarget("image", None, tmp_path / "big.png")], max_images=1, seconds_per_image=10
    )

    (reading,) = ocr.readings
    assert {"Large", "banner", "2026"} <= words(reading.text)
    print(f"\nOCR of a 6000x3000 picture (read at 1600 px): {reading.time_ms:.0f} ms")


@pytest.mark.parametrize(
    ("raw", "expected"), [({}, (True, True, False)), ({"ocr": True}, (True, True, True))]
)
def test_request_option_maps_onto_processing(raw, expected, settings):
    from analysis.options import AnalysisOptions

    settings.OCR_MAX_IMAGES, settings.OCR_SECONDS_PER_IMAGE = 3, 2.5
    processing = AnalysisOptions.parse(raw).processing()
    got = (processing.ocr_images, processing.ocr_pages, processing.ocr_frames)
    assert got == expected
    assert (processing.ocr_max_images, processing.ocr_seconds_per_image) == (3, 2.5)


def test_request_option_false_and_master_switch(settings):
    from analysis.options import AnalysisOptions
    from media_analysis.errors import InvalidRequest

    off = AnalysisOptions.parse({"ocr": False})
    assert off.as_dict()["ocr"] is False
    assert "ocr" not in AnalysisOptions.parse({}).as_dict()  # stored shape unchanged
    processing = off.processing()
    assert not (processing.ocr_images or processing.ocr_pages or processing.ocr_frames)

    with pytest.raises(InvalidRequest) as bad:
        AnalysisOptions.parse({"ocr": "yes"})
    assert (bad.value.code, bad.value.field) == ("invalid_ocr", "options.ocr")

    settings.OCR_ENABLED = False
    with pytest.raises(InvalidRequest) as disabled:
        AnalysisOptions.parse({"ocr": True})
    assert disabled.value.code == "ocr_disabled" and "OCR_ENABLED" in str(disabled.value)
    assert not AnalysisOptions.parse({}).processing().ocr_images
    # A request stored before the switch went off is still processed, without OCR.
    stored = AnalysisOptions.parse({"ocr": True}, stored=True).processing()
    assert not (stored.ocr_images or stored.ocr_frames)


def test_the_web_side_never_loads_the_ocr_engine():
    """The web imports processing (to detect types) and the API: no onnxruntime,
    no OpenCV, no rapidocr until a worker reads a picture."""
    code = (
        "import os, sys, django; "
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'media_analysis.settings'); "
        "django.setup(); "
        "import analysis.processing, analysis.processing.process, analysis.api.views; "
        "heavy = {'onnxruntime', 'cv2', 'rapidocr_onnxruntime'} & "
        "{m.split('.')[0] for m in sys.modules}; "
        "sys.exit(f'loaded: {heavy}' if heavy else 0)"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]

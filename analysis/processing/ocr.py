"""Text in pictures (OCR), read offline with ``rapidocr-onnxruntime``.

Why this library: its detection and recognition models (PP-OCRv4, ONNX) ship
inside the wheel, so a fresh machine reads text with no download and no system
package (Tesseract would need apt and language data); it runs on CPU through
onnxruntime, reads Latin text and digits well (``Invoice 2026-0042: total due
1,234.56 EUR`` comes back exactly, score 0.99), and gives a score per line, which
becomes the confidence.

Bounds. rapidocr cannot be interrupted mid-call, so the time is bounded around the
calls, not inside them:

- every picture is shrunk to ``OCR_MAX_SIDE`` on its longest side before it is
  read, and detection works at ``DETECTION_SIDE`` at most, which keeps one call
  near a second on a busy 2-core machine whatever the source size;
- at most ``max_images`` pictures are read (the rest are counted as
  ``skipped_over_cap``);
- the whole run has a budget of ``max_images`` x ``seconds_per_image``: a picture
  is started only while the budget left covers the slowest call so far (at most
  ``seconds_per_image``); the rest are counted as ``skipped_for_time``. So the run
  ends within the budget plus at most one picture's time (plus loading the
  engine, once per process: about half a second).

The engine loads once per process, on first use (it takes a while, and importing
it loads onnxruntime and OpenCV): web processes never import it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.processing.facts import OcrFacts, OcrReading

ENGINE_NAME = "rapidocr-onnxruntime"
# Longest side a picture is read at: enough for body text on an A4 page rendered
# at 2048 px, small enough that detection and the line crops stay cheap.
OCR_MAX_SIDE = 1600
# Detection's own working size (the library's default scales the *shortest* side
# up to 736, which made a one-line 1000x120 picture 6000 px wide and 3x slower).
DETECTION_SIDE = 960
# Text kept per picture: a page of small print is a few thousand characters.
MAX_TEXT_CHARS = 10_000


@dataclass(frozen=True)
class OcrTarget:
    """One picture to read: ``source`` labels it (``image``, ``page 3``,
    ``frame 2``), ``number`` is the page or frame number."""

    source: str
    number: int | None
    path: Path


_engine: Any = None
_engine_lock = threading.Lock()


def get_engine() -> Any:
    """The process's OCR engine, built on first use."""
    global _engine
    with _engine_lock:
        if _engine is None:
            # Imported here: onnxruntime and OpenCV load only in a process that reads.
            from rapidocr_onnxruntime import RapidOCR

            _engine = RapidOCR(det_limit_type="max", det_limit_side_len=DETECTION_SIDE)
        return _engine


def read_picture(engine: Any, path: Path) -> tuple[str, float | None, int]:
    """The text of one picture (lines top to bottom), its mean line score and the
    number of lines read."""
    found, _elapsed = engine(_load(path))
    lines = [(str(text).strip(), float(score)) for _box, text, score in found or []]
    lines = [(text, score) for text, score in lines if text]
    if not lines:
        return "", None, 0
    text = "\n".join(text for text, _ in lines)[:MAX_TEXT_CHARS]
    confidence = round(sum(score for _, score in lines) / len(lines), 3)
    return text, confidence, len(lines)


def _load(path: Path) -> Any:
    """The picture upright, on white where it is transparent, at most
    ``OCR_MAX_SIDE`` on its longest side (a JPEG is decoded at a reduced scale)."""
    from PIL import Image, ImageOps

    with Image.open(path) as opened:
        opened.draft("RGB", (OCR_MAX_SIDE, OCR_MAX_SIDE))
        picture = ImageOps.exif_transpose(opened)
        picture.thumbnail((OCR_MAX_SIDE, OCR_MAX_SIDE))
        if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
            rgba = picture.convert("RGBA")
            flat = Image.new("RGB", rgba.size, "white")
            flat.paste(rgba, mask=rgba.getchannel("A"))
            return flat
        return picture.convert("RGB")


def read_pictures(
    targets: list[OcrTarget], *, max_images: int, seconds_per_image: float
) -> OcrFacts:
    """Read ``targets`` in order within the bounds above. Never raises for a
    picture or an engine that fails: the facts record it and processing goes on
    (text in pictures is a bonus, not a reason to fail an analysis)."""
    started = time.perf_counter()
    chosen = targets[:max_images]
    over_cap = len(targets) - len(chosen)
    budget = max_images * seconds_per_image

    def facts(readings: list[OcrReading], skipped: int, error: str | None = None) -> OcrFacts:
        return OcrFacts(
            engine=ENGINE_NAME,
            readings=tuple(readings),
            max_images=max_images,
            seconds_per_image=seconds_per_image,
            skipped_over_cap=over_cap,
            skipped_for_time=skipped,
            total_ms=round((time.perf_counter() - started) * 1000, 1),
            error=error,
        )

    if not chosen:
        return facts([], 0)
    try:
        engine = get_engine()
    except Exception as exc:  # missing wheel, or OpenCV without its system libraries
        return facts([], 0, f"The OCR engine could not load ({type(exc).__name__}: {exc})"[:300])

    # The budget runs from here: loading the engine happens once per process.
    reading_from = time.perf_counter()
    readings: list[OcrReading] = []
    slowest = 0.0
    for position, target in enumerate(chosen):
        remaining = budget - (time.perf_counter() - reading_from)
        if remaining <= 0 or remaining < min(slowest, seconds_per_image):
            return facts(readings, len(chosen) - position)
        began = time.perf_counter()
        error = None
        try:
            text, confidence, lines = read_picture(engine, target.path)
        except Exception as exc:  # one unreadable picture does not stop the others
            text, confidence, lines = "", None, 0
            error = type(exc).__name__
        took = time.perf_counter() - began
        slowest = max(slowest, took)
        readings.append(
            OcrReading(
                source=target.source,
                number=target.number,
                text=text,
                confidence=confidence,
                lines=lines,
                time_ms=round(took * 1000, 1),
                error=error,
            )
        )
    return facts(readings, 0)

"""Text read from pictures (OCR) in the status response: per picture its source
(``image``, ``page N``, ``frame N``), the text and the confidence. Read from the
facts stored with the completed request (``metadata["facts"]["ocr"]``), like the
frames, so it costs no query."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from analysis.models import AnalysisRequest


class OcrSerializer(serializers.Serializer):
    source = serializers.CharField(help_text="image, page N (a PDF page) or frame N.")
    number = serializers.IntegerField(
        allow_null=True, help_text="The page or frame number; null for an image."
    )
    text = serializers.CharField(allow_blank=True, help_text="Lines read, top to bottom.")
    confidence = serializers.FloatField(
        allow_null=True, help_text="Mean of the line scores, 0 to 1; null when nothing was read."
    )


def ocr_of(request: AnalysisRequest) -> list[dict[str, Any]]:
    """The completed request's OCR readings; empty for other states, for media
    nothing was read from, and when OCR was off."""
    if request.status != "completed":
        return []
    facts = (request.metadata or {}).get("facts") or {}
    ocr = facts.get("ocr") if isinstance(facts, dict) else None
    readings = ocr.get("readings") if isinstance(ocr, dict) else None
    if not isinstance(readings, list):
        return []
    return [
        {
            "source": reading.get("source"),
            "number": reading.get("number"),
            "text": reading.get("text") or "",
            "confidence": reading.get("confidence"),
        }
        for reading in readings
        if isinstance(reading, dict)
    ]

"""Chunk transcripts to one transcript in absolute time.

Consecutive chunks share ``overlap`` seconds of sound, so speech there is heard
twice. The cut sits in the middle of each overlap: a segment belongs to the
earlier chunk when it starts before the cut, to the later one otherwise. A
segment shorter than half the overlap that starts before the cut therefore ends
inside the earlier chunk and is heard there whole; the later chunk's copy (which
may be clipped at its start) is dropped. A later segment that repeats the last
kept one's text while starting before that one ends is dropped too (models often
re-align a sentence that straddles the cut).
"""

from __future__ import annotations

from collections.abc import Sequence

from analysis.transcription.types import AudioChunk, ChunkTranscript, Segment

# Times are kept to the millisecond, as WebVTT writes them.
DIGITS = 3


def stitch(
    parts: Sequence[tuple[AudioChunk, ChunkTranscript]], overlap_s: float
) -> tuple[tuple[Segment, ...], str, str | None]:
    """(segments in absolute time, the whole text, the first language named)."""
    kept: list[Segment] = []
    for position, (chunk, heard) in enumerate(parts):
        starts_after = chunk.offset_s + overlap_s / 2 if position else float("-inf")
        if position + 1 < len(parts):
            next_offset = parts[position + 1][0].offset_s
            ends_before = next_offset + overlap_s / 2
        else:
            ends_before = float("inf")
        for segment in heard.segments:
            start = chunk.offset_s + segment.start
            end = min(chunk.offset_s + segment.end, chunk.offset_s + chunk.duration_s)
            if not starts_after <= start < ends_before:
                continue
            if kept and _repeats(kept[-1], segment.text, start):
                continue
            kept.append(Segment(round(start, DIGITS), round(max(end, start), DIGITS), segment.text))
    text = " ".join(segment.text for segment in kept)
    language = next((heard.language for _, heard in parts if heard.language), None)
    return tuple(kept), text, language


def _repeats(last: Segment, text: str, start: float) -> bool:
    return start < last.end and _normalised(text) == _normalised(last.text)


def _normalised(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .,!?")

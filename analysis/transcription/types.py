"""What the transcription layers hand each other. Standard library only: the
provider interface (``analysis.providers.base``) imports :class:`Transcript`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Segment:
    """A stretch of speech, in seconds from the start of the media."""

    start: float
    end: float
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text}


@dataclass(frozen=True)
class AudioChunk:
    """One upload: 16 kHz mono WAV at ``path``, starting ``offset_s`` into the media."""

    path: Path
    offset_s: float
    duration_s: float


@dataclass(frozen=True)
class PreparedAudio:
    """The sound, ready to send: consecutive chunks overlapping by ``overlap_s``."""

    chunks: tuple[AudioChunk, ...]
    duration_s: float
    overlap_s: float


@dataclass(frozen=True)
class ChunkTranscript:
    """The endpoint's answer for one chunk; segment times relative to the chunk."""

    text: str
    language: str | None
    segments: tuple[Segment, ...]
    attempts: int = 1


@dataclass(frozen=True)
class Transcript:
    """The whole media's speech: ``segments`` in absolute time order.

    ``duration_s`` is the audio sent (what an endpoint bills by the minute);
    ``chunks`` how many uploads it took, ``attempts`` the HTTP attempts.
    """

    text: str
    language: str | None
    segments: tuple[Segment, ...]
    duration_s: float
    model: str
    chunks: int = 1
    attempts: int = 1

    def timed_lines(self) -> list[str]:
        """``[00:05.0-00:09.5] words`` per segment, for prompts and reports."""
        return [f"[{timestamp(s.start)}-{timestamp(s.end)}] {s.text}" for s in self.segments]

    def as_dict(self) -> dict[str, Any]:
        """The stored and returned shape: text, language, segments."""
        return {
            "text": self.text,
            "language": self.language,
            "segments": [segment.as_dict() for segment in self.segments],
        }


def timestamp(seconds: float) -> str:
    """``mm:ss.s`` (``h:mm:ss.s`` past an hour)."""
    tenths = round(seconds * 10)
    hours, tenths = divmod(tenths, 36_000)
    minutes, tenths = divmod(tenths, 600)
    secs = tenths / 10
    return f"{hours}:{minutes:02d}:{secs:04.1f}" if hours else f"{minutes:02d}:{secs:04.1f}"

"""What video and audio share: opening a container with PyAV, turning its errors
into MediaProcessingError, and describing the container and its streams as facts."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import av
import av.container

from analysis.processing.errors import (
    MEDIA_CORRUPT,
    MEDIA_NOT_FOUND,
    MEDIA_TRUNCATED,
    UNSUPPORTED_MEDIA,
    MediaProcessingError,
)
from analysis.processing.facts import AudioStreamFacts, ContainerFacts, VideoStreamFacts

# Words FFmpeg uses when the data stops before the container says it should.
_TRUNCATION_HINTS = ("moov atom not found", "end of file", "eof", "truncat", "partial file")


# Damaged packets skipped before a stream counts as corrupt rather than scratched.
MAX_DECODE_ERRORS = 32


class PacketDecoder:
    """Decodes one stream's packets, skipping a damaged one (counted in ``errors``)
    up to MAX_DECODE_ERRORS; past that, MEDIA_CORRUPT with ``damaged`` as message."""

    def __init__(self, damaged: str) -> None:
        self.damaged = damaged
        self.errors = 0

    def decode(self, packet) -> list:
        try:
            return packet.decode()
        except av.error.InvalidDataError:
            self.errors += 1
            if self.errors > MAX_DECODE_ERRORS:
                raise MediaProcessingError(MEDIA_CORRUPT, self.damaged) from None
            return []


def media_error_from_av(exc: BaseException, what: str) -> MediaProcessingError:
    """The MediaProcessingError that a PyAV/FFmpeg failure on ``what`` means."""
    text = str(exc).lower()
    if isinstance(exc, av.error.FileNotFoundError | FileNotFoundError):
        return MediaProcessingError(MEDIA_NOT_FOUND, f"The {what} file is missing.")
    if isinstance(exc, av.error.EOFError) or any(hint in text for hint in _TRUNCATION_HINTS):
        return MediaProcessingError(
            MEDIA_TRUNCATED,
            f"The {what} file ends early, as if the upload or download was cut off; "
            "send the complete file again.",
        )
    if isinstance(
        exc,
        av.error.DecoderNotFoundError | av.error.DemuxerNotFoundError | av.error.PatchWelcomeError,
    ):
        return MediaProcessingError(
            UNSUPPORTED_MEDIA, f"The {what} uses a format or codec this service cannot decode."
        )
    return MediaProcessingError(
        MEDIA_CORRUPT, f"The {what} file is damaged or not a valid {what} file and cannot be read."
    )


@contextlib.contextmanager
def av_errors(what: str) -> Iterator[None]:
    """Re-raise anything PyAV/FFmpeg throws as a MediaProcessingError about ``what``."""
    try:
        yield
    except MediaProcessingError:
        raise
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError, IndexError) as exc:
        raise media_error_from_av(exc, what) from exc


def iso_bmff_cut_short(path: Path) -> bool:
    """Whether an MP4/MOV file's top-level boxes run past its end, or its index
    (``moov``) is missing: the signs of a cut-off upload, which FFmpeg reports
    only as "invalid data"."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            if handle.read(8)[4:8] != b"ftyp":
                return False
            offset, seen_moov = 0, False
            while offset + 8 <= size:
                handle.seek(offset)
                header = handle.read(16)
                box_size, box_type = int.from_bytes(header[:4], "big"), header[4:8]
                if box_size == 1 and len(header) == 16:
                    box_size = int.from_bytes(header[8:16], "big")
                elif box_size == 0:  # extends to the end of the file
                    box_size = size - offset
                if box_size < 8:
                    return False  # not a box structure we can judge
                seen_moov = seen_moov or box_type == b"moov"
                if offset + box_size > size:
                    return True
                offset += box_size
            return not seen_moov
    except OSError:
        return False


def missing_stream_error(path: Path, what: str, code: str, message: str) -> MediaProcessingError:
    """The error for a container without the stream we need: a truncation when
    the file is visibly cut (its index lost), else ``code``."""
    if iso_bmff_cut_short(path):
        return MediaProcessingError(
            MEDIA_TRUNCATED,
            f"The {what} file ends early (its index is missing or cut), as if the upload "
            "was cut off; send the complete file again.",
        )
    return MediaProcessingError(code, message)


@contextlib.contextmanager
def open_input(path: Path, what: str) -> Iterator[av.container.InputContainer]:
    """Open ``path`` for reading; errors come out as MediaProcessingError."""
    try:
        container = av.open(str(path), "r", metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError, IndexError) as exc:
        if iso_bmff_cut_short(path):
            raise MediaProcessingError(
                MEDIA_TRUNCATED,
                f"The {what} file ends early (its index is missing or cut), as if the upload "
                "was cut off; send the complete file again.",
            ) from exc
        raise media_error_from_av(exc, what) from exc
    try:
        with av_errors(what):
            yield container
    finally:
        container.close()


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def stream_duration_seconds(stream: av.stream.Stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return None


def container_duration_seconds(container: av.container.InputContainer) -> float | None:
    """The duration the container declares, or the longest stream's, or None."""
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    durations = [d for d in (stream_duration_seconds(s) for s in container.streams) if d]
    return max(durations) if durations else None


def container_facts(container: av.container.InputContainer, path: Path) -> ContainerFacts:
    return ContainerFacts(
        container=container.format.name,
        container_long_name=container.format.long_name,
        duration_s=_rounded(container_duration_seconds(container)),
        bit_rate=container.bit_rate or None,
        size_bytes=path.stat().st_size,
        stream_count=len(container.streams),
    )


def real_video_streams(container: av.container.InputContainer) -> list[av.video.stream.VideoStream]:
    """Video streams that are moving pictures, not a cover image attached to audio."""
    return [
        stream
        for stream in container.streams.video
        if not stream.disposition & av.stream.Disposition.attached_pic
    ]


def video_stream_facts(stream: av.video.stream.VideoStream) -> VideoStreamFacts:
    ctx = stream.codec_context
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return VideoStreamFacts(
        codec=ctx.name,
        codec_long_name=ctx.codec.long_name,
        profile=ctx.profile,
        width=ctx.width,
        height=ctx.height,
        pix_fmt=ctx.pix_fmt,
        frame_rate=_rounded(rate),
        frame_count=stream.frames or None,
        bit_rate=stream.bit_rate or ctx.bit_rate or None,
        duration_s=_rounded(stream_duration_seconds(stream)),
        sample_aspect_ratio=str(stream.sample_aspect_ratio) if stream.sample_aspect_ratio else None,
    )


def audio_stream_facts(stream: av.audio.stream.AudioStream) -> AudioStreamFacts:
    ctx = stream.codec_context
    return AudioStreamFacts(
        codec=ctx.name,
        codec_long_name=ctx.codec.long_name,
        sample_rate=ctx.sample_rate or None,
        channels=ctx.channels or None,
        channel_layout=ctx.layout.name if ctx.layout else None,
        sample_format=ctx.format.name if ctx.format else None,
        bit_rate=stream.bit_rate or ctx.bit_rate or None,
        duration_s=_rounded(stream_duration_seconds(stream)),
    )

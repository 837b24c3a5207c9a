"""The sound of an audio file or a video, as 16 kHz mono WAV chunks under the
transcription endpoint's upload limit.

16 kHz mono is what Whisper-family models resample to anyway, so nothing the model
would hear is lost, and 16-bit PCM WAV has a fixed size per second (32,000 bytes):
a chunk's length follows from the limit exactly, which FLAC's variable size would
not give. Consecutive chunks overlap by ``OVERLAP_SECONDS`` so a word cut at one
chunk's end is heard whole in the next; ``stitch`` drops what is heard twice.

The decode is streamed: at most one chunk of samples is held in memory.
"""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np

from analysis.processing.avcommon import PacketDecoder, open_input
from analysis.transcription.types import AudioChunk, PreparedAudio

SAMPLE_RATE = 16_000
BYTES_PER_SAMPLE = 2  # s16 mono
WAV_HEADER_BYTES = 44
# Room left in the limit for the multipart envelope and the other form fields.
MULTIPART_MARGIN_BYTES = 16 * 1024
OVERLAP_SECONDS = 2.0


def chunk_samples_for(max_upload_bytes: int) -> int:
    """The most samples one WAV upload may hold under ``max_upload_bytes``."""
    room = max_upload_bytes - WAV_HEADER_BYTES - MULTIPART_MARGIN_BYTES
    samples = room // BYTES_PER_SAMPLE
    if samples <= 2 * OVERLAP_SECONDS * SAMPLE_RATE:
        raise ValueError(
            f"an upload limit of {max_upload_bytes} bytes leaves no room for chunks "
            f"longer than twice the {OVERLAP_SECONDS} s overlap"
        )
    return samples


def prepare_audio(path: Path, work_dir: Path, max_upload_bytes: int) -> PreparedAudio | None:
    """The first audio stream of ``path`` as chunks in ``work_dir``; None when the
    file has no audio stream (a silent video). Damaged media raise
    :class:`MediaProcessingError`."""
    chunk_samples = chunk_samples_for(max_upload_bytes)
    overlap = int(OVERLAP_SECONDS * SAMPLE_RATE)
    work_dir.mkdir(parents=True, exist_ok=True)
    writer = _ChunkWriter(work_dir, chunk_samples, overlap)
    with open_input(path, "audio") as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        for block in _mono_blocks(container, stream):
            writer.add(block)
    writer.finish()
    return PreparedAudio(
        chunks=tuple(writer.chunks),
        duration_s=round(writer.total_samples / SAMPLE_RATE, 3),
        overlap_s=OVERLAP_SECONDS,
    )


def _mono_blocks(container, stream):
    """Decoded sound as 1-D int16 arrays at 16 kHz mono."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    decoder = PacketDecoder("The sound is damaged and cannot be decoded.")
    for packet in container.demux(stream):
        for frame in decoder.decode(packet):
            frame.pts = None  # timestamps are counted from samples, not trusted
            for converted in resampler.resample(frame):
                yield converted.to_ndarray().reshape(-1)
    for converted in resampler.resample(None):
        yield converted.to_ndarray().reshape(-1)


class _ChunkWriter:
    """Cuts a stream of samples into overlapping chunks, writing each as it fills."""

    def __init__(self, work_dir: Path, chunk_samples: int, overlap: int) -> None:
        self.work_dir = work_dir
        self.chunk_samples = chunk_samples
        self.overlap = overlap
        self.pending: list[np.ndarray] = []
        self.pending_samples = 0
        self.offset = 0  # samples from the start to the pending buffer's first one
        self.total_samples = 0
        self.chunks: list[AudioChunk] = []

    def add(self, block: np.ndarray) -> None:
        if block.size == 0:
            return
        self.pending.append(block.astype(np.int16, copy=False))
        self.pending_samples += block.size
        self.total_samples += block.size
        while self.pending_samples >= self.chunk_samples:
            data = np.concatenate(self.pending)
            self._write(data[: self.chunk_samples])
            step = self.chunk_samples - self.overlap
            rest = data[step:]
            self.offset += step
            self.pending, self.pending_samples = [rest], rest.size

    def finish(self) -> None:
        # The tail after the last full chunk; when it is only the overlap already
        # sent, there is nothing new to hear.
        if self.pending_samples and (not self.chunks or self.pending_samples > self.overlap):
            self._write(np.concatenate(self.pending))
        self.pending, self.pending_samples = [], 0

    def _write(self, samples: np.ndarray) -> None:
        path = self.work_dir / f"speech_{len(self.chunks) + 1:03d}.wav"
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(BYTES_PER_SAMPLE)
            out.setframerate(SAMPLE_RATE)
            out.writeframes(samples.astype("<i2", copy=False).tobytes())
        self.chunks.append(
            AudioChunk(
                path=path,
                offset_s=round(self.offset / SAMPLE_RATE, 3),
                duration_s=round(samples.size / SAMPLE_RATE, 3),
            )
        )

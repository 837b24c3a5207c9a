"""Audio: probe the stream, measure loudness and silence, draw a waveform.

The decode is streamed: samples are reduced to per-window statistics (peak and
mean square per ``silence_window_ms``) as they arrive, so an hour of audio costs a
few hundred kilobytes of window statistics, never the samples themselves.

Levels are dBFS against full scale 1.0 with plain RMS (a full-scale sine has an
RMS of -3.01 dBFS; no AES17 +3 dB offset). Digital silence is reported as
``SILENCE_FLOOR_DBFS`` rather than -infinity, so the facts stay valid JSON.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
from PIL import Image

from analysis.processing.avcommon import (
    PacketDecoder,
    audio_stream_facts,
    av_errors,
    container_duration_seconds,
    container_facts,
    missing_stream_error,
    open_input,
)
from analysis.processing.contact_sheet import Resolution
from analysis.processing.errors import (
    MEDIA_CORRUPT,
    MEDIA_TRUNCATED,
    NO_AUDIO_STREAM,
    PROCESSING_FAILED,
    MediaProcessingError,
)
from analysis.processing.facts import AudioFacts, LoudnessFacts, WaveformFacts, field_values
from analysis.processing.options import ProcessingOptions

SILENCE_FLOOR_DBFS = -120.0
# Samples gathered before the statistics run, so numpy works on big blocks
# rather than on every 1,024-sample frame.
BATCH_SAMPLES = 1 << 16
# Declared and decoded lengths may differ by this much before we call it truncated.
TRUNCATION_TOLERANCE = 0.03
TRUNCATION_SLACK_SECONDS = 0.25

WAVEFORM_BACKGROUND = (24, 26, 32)
WAVEFORM_PEAK = (96, 165, 250)
WAVEFORM_RMS = (191, 219, 254)
WAVEFORM_AXIS = (71, 85, 105)


def to_dbfs(amplitude: float) -> float:
    if amplitude <= 0.0:
        return SILENCE_FLOOR_DBFS
    return round(max(20.0 * math.log10(amplitude), SILENCE_FLOOR_DBFS), 2)


@dataclass
class LoudnessMeter:
    """Streaming peak, RMS and per-window statistics over planar float samples."""

    window_samples: int
    peak: float = 0.0
    sum_squares: float = 0.0
    sample_count: int = 0  # per channel
    value_count: int = 0  # over all channels
    window_peaks: list[np.ndarray] = field(default_factory=list)
    window_mean_squares: list[np.ndarray] = field(default_factory=list)
    _pending: list[np.ndarray] = field(default_factory=list)
    _pending_samples: int = 0

    def add(self, planes: np.ndarray) -> None:
        """Take a (channels, samples) float block."""
        if planes.size == 0:
            return
        self._pending.append(planes)
        self._pending_samples += planes.shape[1]
        if self._pending_samples >= BATCH_SAMPLES:
            self._flush(final=False)

    def finish(self) -> None:
        self._flush(final=True)

    def _flush(self, final: bool) -> None:
        if not self._pending:
            return
        block = np.concatenate(self._pending, axis=1).astype(np.float32, copy=False)
        self._pending, self._pending_samples = [], 0
        whole = (block.shape[1] // self.window_samples) * self.window_samples
        if not final and whole < block.shape[1]:
            # Keep the partial window for the next batch so windows never straddle.
            self._pending.append(block[:, whole:])
            self._pending_samples = block.shape[1] - whole
            block = block[:, :whole]
        if block.shape[1] == 0:
            return
        magnitude = np.abs(block)
        squares = np.square(block, dtype=np.float64)
        self.peak = max(self.peak, float(magnitude.max()))
        self.sum_squares += float(squares.sum())
        self.sample_count += block.shape[1]
        self.value_count += block.size
        per_sample_peak = magnitude.max(axis=0)
        per_sample_energy = squares.mean(axis=0)
        full = (block.shape[1] // self.window_samples) * self.window_samples
        if full:
            self.window_peaks.append(
                per_sample_peak[:full].reshape(-1, self.window_samples).max(axis=1)
            )
            self.window_mean_squares.append(
                per_sample_energy[:full].reshape(-1, self.window_samples).mean(axis=1)
            )
        if full < block.shape[1]:  # the final short window
            self.window_peaks.append(per_sample_peak[full:].max(keepdims=True))
            self.window_mean_squares.append(per_sample_energy[full:].mean(keepdims=True))

    def windows(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-window peak and RMS amplitude, in time order."""
        if not self.window_peaks:
            return np.zeros(0, np.float32), np.zeros(0, np.float64)
        return np.concatenate(self.window_peaks), np.sqrt(np.concatenate(self.window_mean_squares))

    @property
    def rms(self) -> float:
        return math.sqrt(self.sum_squares / self.value_count) if self.value_count else 0.0


@dataclass(frozen=True)
class AudioResult:
    facts: AudioFacts
    waveform: Path


def process_audio(path: Path, work_dir: Path, options: ProcessingOptions) -> AudioResult:
    """Probe, measure and draw ``work_dir/waveform.png``; facts carry stage timings."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with open_input(path, "audio") as container:
        if not container.streams.audio:
            raise missing_stream_error(
                path, "audio", NO_AUDIO_STREAM, "The file has no audio stream."
            )
        stream = container.streams.audio[0]
        probe = container_facts(container, path)
        stream_facts = audio_stream_facts(stream)
        stream_count = len(container.streams.audio)
        timings["probe_ms"] = _ms_since(started)

        mark = time.perf_counter()
        meter, decode_errors, _ = _measure(container, stream, options)
        timings["analysis_ms"] = _ms_since(mark)
        declared = container_duration_seconds(container)
        sample_rate = stream.codec_context.sample_rate or 1
    decoded = meter.sample_count / sample_rate
    truncation = _truncation_reason(path, probe.container, declared, decoded)
    if meter.sample_count == 0:
        raise MediaProcessingError(
            MEDIA_CORRUPT if decode_errors else MEDIA_TRUNCATED,
            "No sound could be decoded from the file: it is damaged or cut short.",
        )
    if truncation and not options.allow_truncated:
        raise MediaProcessingError(
            MEDIA_TRUNCATED,
            f"The audio ends early ({truncation}), as if the upload was cut off. "
            "Send the complete file again.",
        )
    peaks, rms = meter.windows()
    loudness = loudness_facts(meter, options)

    mark = time.perf_counter()
    waveform = draw_waveform(peaks, rms, work_dir / "waveform.png", options.waveform_parsed)
    timings["waveform_ms"] = _ms_since(mark)
    facts = AudioFacts(
        **field_values(probe),
        audio=stream_facts,
        audio_stream_count=stream_count,
        decoded_duration_s=round(decoded, 3),
        decode_errors=decode_errors,
        truncated=truncation is not None,
        loudness=loudness,
        waveform=WaveformFacts(path=str(waveform), size=str(options.waveform_parsed)),
        timings_ms=timings,
    )
    return AudioResult(facts=facts, waveform=waveform)


def _ms_since(mark: float) -> float:
    return round((time.perf_counter() - mark) * 1000, 1)


def loudness_facts(
    meter: LoudnessMeter, options: ProcessingOptions, measured_s: float | None = None
) -> LoudnessFacts:
    """The meter's levels and silence share as facts (``measured_s``: see LoudnessFacts)."""
    _, rms = meter.windows()
    threshold = 10 ** (options.silence_threshold_dbfs / 20)
    return LoudnessFacts(
        peak_dbfs=to_dbfs(meter.peak),
        rms_dbfs=to_dbfs(meter.rms),
        silence_ratio=round(float((rms < threshold).mean()), 4) if rms.size else 1.0,
        silence_threshold_dbfs=options.silence_threshold_dbfs,
        window_ms=options.silence_window_ms,
        windows=int(rms.size),
        measured_s=measured_s,
    )


@dataclass(frozen=True)
class MeasureLimit:
    """Where a bounded measurement stops: after this much sound, or this much time."""

    max_audio_seconds: float
    deadline: float  # time.perf_counter() value

    def reached(self, samples: int, rate: int) -> bool:
        return samples >= self.max_audio_seconds * rate or time.perf_counter() >= self.deadline


def measure_sound_track(
    path: Path, options: ProcessingOptions, *, max_audio_seconds: float, seconds: float
) -> LoudnessFacts | None:
    """Loudness of the first audio stream of any container (a video's sound
    track), measured as ``process_audio`` measures a file; None without one.
    Stops after ``max_audio_seconds`` of sound or ``seconds`` of work, whichever
    comes first; ``measured_s`` then says how much of the start was measured.
    Only the audio packets are decoded: pictures are demuxed and dropped."""
    limit = MeasureLimit(max_audio_seconds, time.perf_counter() + seconds)
    with open_input(path, "sound track") as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        meter, decode_errors, cut_at = _measure(container, stream, options, limit)
    if meter.sample_count == 0 and cut_at is not None:
        raise MediaProcessingError(
            PROCESSING_FAILED,
            "The sound track's time bound was spent before any sound was measured.",
        )
    if meter.sample_count == 0:
        raise MediaProcessingError(
            MEDIA_CORRUPT if decode_errors else MEDIA_TRUNCATED,
            "No sound could be decoded from the sound track.",
        )
    return loudness_facts(meter, options, measured_s=cut_at)


def _measure(
    container, stream, options: ProcessingOptions, limit: MeasureLimit | None = None
) -> tuple[LoudnessMeter, int, float | None]:
    """Decode the stream once, feeding the meter; returns it, the decode errors
    and, when ``limit`` stopped it early, the seconds of sound measured."""
    rate = stream.codec_context.sample_rate or 48000
    meter = LoudnessMeter(window_samples=max(1, rate * options.silence_window_ms // 1000))
    resampler = None
    decoder = PacketDecoder("The audio is damaged and cannot be decoded.")
    decoded = 0
    with av_errors("audio"):
        for packet in container.demux(stream):
            if limit is not None and limit.reached(decoded, rate):
                meter.finish()
                return meter, decoder.errors, round(decoded / rate, 3)
            for frame in decoder.decode(packet):
                if resampler is None:
                    # Fixed output (planar float, first frame's layout and rate), so a
                    # stream that changes format mid-way is still measured as one.
                    resampler = av.AudioResampler(
                        format="fltp", layout=frame.layout, rate=frame.sample_rate
                    )
                for converted in resampler.resample(frame):
                    meter.add(converted.to_ndarray())
                    decoded += converted.samples
        if resampler is not None:
            for converted in resampler.resample(None):
                meter.add(converted.to_ndarray())
    meter.finish()
    return meter, decoder.errors, None


def _has_vbr_header(path: Path) -> bool:
    """Whether an MP3 carries a Xing/Info/VBRI header, i.e. an exact length."""
    with open(path, "rb") as handle:
        head = handle.read(256 * 1024)
    return any(tag in head for tag in (b"Xing", b"Info", b"VBRI"))


def _riff_declares_more_than_present(path: Path) -> bool:
    """A WAV whose RIFF header promises more bytes than the file has. FFmpeg
    clamps the length to what is there, so the declared duration cannot tell.
    Streaming writers put 0 or 0xFFFFFFFF there ("unknown"): not judged."""
    with open(path, "rb") as handle:
        header = handle.read(12)
    if len(header) < 12 or header[:4] != b"RIFF":
        return False
    declared = int.from_bytes(header[4:8], "little")
    if declared in (0, 0xFFFFFFFF):
        return False
    return declared + 8 > path.stat().st_size


def _truncation_reason(
    path: Path, container_name: str, declared: float | None, decoded: float
) -> str | None:
    """Why the file looks cut short, or None. An MP3 without a VBR header has only
    a length estimated from its bitrate, so its length is not judged."""
    if container_name == "wav" and _riff_declares_more_than_present(path):
        return "the WAV header announces more sound than the file contains"
    if not declared:
        return None
    if container_name == "mp3" and not _has_vbr_header(path):
        return None
    if decoded < declared * (1 - TRUNCATION_TOLERANCE) - TRUNCATION_SLACK_SECONDS:
        return f"only {decoded:.1f} s of the declared {declared:.1f} s could be read"
    return None


def draw_waveform(peaks: np.ndarray, rms: np.ndarray, out_path: Path, size: Resolution) -> Path:
    """A PNG of the signal envelope: peak in one colour, RMS inside it, time left to right."""
    width, height = size.width, size.height
    column_peak, column_rms = _columns(peaks, rms, width)
    mid = (height - 1) / 2
    rows = np.abs(np.arange(height, dtype=np.float32) - mid)[:, None]  # distance from the axis
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = WAVEFORM_BACKGROUND
    canvas[rows[:, 0] <= 0.5] = WAVEFORM_AXIS
    canvas[rows <= column_peak[None, :] * mid] = WAVEFORM_PEAK
    canvas[rows <= column_rms[None, :] * mid] = WAVEFORM_RMS
    out_path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(canvas, "RGB").save(out_path, "PNG", optimize=False)
    return out_path


def _columns(peaks: np.ndarray, rms: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel-column peak (max) and RMS (power mean) of the windows under it."""
    count = peaks.size
    if count == 0:
        return np.zeros(width, np.float32), np.zeros(width, np.float32)
    if count < width:  # fewer windows than pixels: each column shows its window
        index = (np.arange(width) * count) // width
        return np.clip(peaks[index], 0, 1), np.clip(rms[index], 0, 1)
    column = (np.arange(count) * width) // count
    column_peak = np.zeros(width, dtype=np.float64)
    np.maximum.at(column_peak, column, peaks)
    power = np.bincount(column, weights=np.square(rms), minlength=width)
    column_rms = np.sqrt(power / np.maximum(np.bincount(column, minlength=width), 1))
    return np.clip(column_peak, 0, 1), np.clip(column_rms, 0, 1)

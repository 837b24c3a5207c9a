"""Audio: probing, loudness, silence, the waveform, streaming, and failures."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from analysis.processing.audio import SILENCE_FLOOR_DBFS, LoudnessMeter, process_audio, to_dbfs
from analysis.processing.errors import MediaProcessingError
from analysis.processing.options import ProcessingOptions
from tests.processing import media_factory as make

HALF_SCALE_SINE_PEAK = -6.02  # 20*log10(0.5)
HALF_SCALE_SINE_RMS = -9.03  # 20*log10(0.5/sqrt(2))


def test_wav_loudness_and_silence_share(wav_tone, tmp_path):
    result = process_audio(wav_tone, tmp_path, ProcessingOptions())
    facts = result.facts
    assert facts.audio.codec == "pcm_s16le"
    assert (facts.audio.sample_rate, facts.audio.channels) == (44100, 2)
    assert facts.duration_s == pytest.approx(4.0, abs=0.01)
    loudness = facts.loudness
    assert loudness.peak_dbfs == pytest.approx(HALF_SCALE_SINE_PEAK, abs=0.05)
    # Half the time at -9.03 dBFS, half silent: the mean square halves (-3.01 dB).
    assert loudness.rms_dbfs == pytest.approx(HALF_SCALE_SINE_RMS - 3.01, abs=0.05)
    assert loudness.silence_ratio == pytest.approx(0.5, abs=0.02)
    json.dumps(facts.as_dict())


@pytest.mark.parametrize("fixture", ["mp3_tone", "flac_tone"])
def test_compressed_formats_measure_the_same_tone(fixture, request, tmp_path):
    path = request.getfixturevalue(fixture)
    facts = process_audio(path, tmp_path, ProcessingOptions()).facts
    expected_codec = {"mp3_tone": "mp3", "flac_tone": "flac"}[fixture]
    assert facts.audio.codec.startswith(expected_codec)
    assert facts.decoded_duration_s == pytest.approx(3.0, abs=0.1)
    # FLAC is lossless; the MP3 encoder shaves about half a decibel off this tone.
    tolerance = 0.05 if fixture == "flac_tone" else 0.7
    assert facts.loudness.peak_dbfs == pytest.approx(HALF_SCALE_SINE_PEAK, abs=tolerance)
    assert facts.loudness.rms_dbfs == pytest.approx(HALF_SCALE_SINE_RMS, abs=tolerance)
    assert facts.loudness.silence_ratio < 0.05


def test_ogg_opus_and_m4a(tmp_path):
    for fmt in ("ogg", "m4a"):
        path = make.make_audio(tmp_path / f"a.{fmt}", fmt=fmt, seconds=2.0)
        facts = process_audio(path, tmp_path / fmt, ProcessingOptions()).facts
        assert facts.audio.codec in ("opus", "aac")
        assert facts.loudness.rms_dbfs == pytest.approx(HALF_SCALE_SINE_RMS, abs=0.5)


def test_silence_threshold_is_configurable(tmp_path):
    quiet = make.make_audio(tmp_path / "quiet.wav", amplitude=0.001)  # about -60 dBFS
    assert (
        process_audio(quiet, tmp_path / "a", ProcessingOptions()).facts.loudness.silence_ratio
        == 1.0
    )
    loose = ProcessingOptions(silence_threshold_dbfs=-70.0)
    assert process_audio(quiet, tmp_path / "b", loose).facts.loudness.silence_ratio == 0.0


def test_waveform_png_has_the_configured_size_and_shows_the_silence(wav_tone, tmp_path):
    result = process_audio(wav_tone, tmp_path, ProcessingOptions(waveform_size="800x200"))
    assert result.waveform == tmp_path / "waveform.png"
    with Image.open(result.waveform) as image:
        assert (image.format, image.size) == ("PNG", (800, 200))
        pixels = np.asarray(image.convert("RGB")).astype(int)
    loud_column, silent_column = pixels[:, 200], pixels[:, 600]
    background = pixels[0, 0]
    assert (np.abs(loud_column - background).sum(axis=1) > 30).sum() > 80  # a tall envelope
    assert (np.abs(silent_column - background).sum(axis=1) > 30).sum() <= 2  # just the axis


def test_meter_gives_the_same_result_in_blocks_as_at_once():
    rng = np.random.default_rng(7)
    samples = (rng.standard_normal((2, 100_000)) * 0.1).astype(np.float32)
    whole = LoudnessMeter(window_samples=441)
    whole.add(samples)
    whole.finish()
    pieces = LoudnessMeter(window_samples=441)
    for start in range(0, samples.shape[1], 1_000):
        pieces.add(samples[:, start : start + 1_000])
    pieces.finish()
    assert pieces.peak == whole.peak
    assert pieces.rms == pytest.approx(whole.rms, rel=1e-9)
    assert np.allclose(pieces.windows()[1], whole.windows()[1])
    assert pieces.windows()[0].size == -(-100_000 // 441)


def test_long_audio_is_streamed_not_held_in_memory(tmp_path):
    # 5 minutes of stereo 44.1 kHz: 26.5 M float samples (106 MB as float32) if
    # held at once. The decode must stay far below that.
    path = make.make_audio(tmp_path / "long.wav", seconds=300, channels=2)
    tracemalloc.start()
    try:
        result = process_audio(path, tmp_path / "out", ProcessingOptions())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.facts.decoded_duration_s == pytest.approx(300, abs=0.1)
    assert peak < 20 * 1024 * 1024


def test_dbfs_of_silence_is_a_finite_floor():
    assert to_dbfs(0.0) == SILENCE_FLOOR_DBFS
    assert to_dbfs(1.0) == 0.0


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3"])
def test_truncated_audio_is_reported(fmt, tmp_path):
    full = make.make_audio(tmp_path / f"full.{fmt}", fmt=fmt, seconds=6.0)
    cut = make.truncate(full, tmp_path / f"cut.{fmt}", 0.5)
    with pytest.raises(MediaProcessingError) as caught:
        process_audio(cut, tmp_path / "out", ProcessingOptions())
    assert caught.value.code == "media_truncated"
    partial = process_audio(cut, tmp_path / "partial", ProcessingOptions(allow_truncated=True))
    assert partial.facts.truncated is True
    assert partial.facts.decoded_duration_s == pytest.approx(3.0, abs=0.5)


def test_video_without_sound_has_no_audio_stream(video_silent, tmp_path):
    with pytest.raises(MediaProcessingError) as caught:
        process_audio(video_silent, tmp_path, ProcessingOptions())
    assert caught.value.code == "no_audio_stream"


def test_garbage_after_a_wav_header_is_not_reported_as_sound(tmp_path):
    path = tmp_path / "bad.wav"
    path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEjunk" + bytes(range(256)) * 4)
    with pytest.raises(MediaProcessingError) as caught:
        process_audio(path, tmp_path / "out", ProcessingOptions())
    assert caught.value.code in ("media_corrupt", "media_truncated")

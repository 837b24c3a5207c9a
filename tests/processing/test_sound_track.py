"""Loudness of a video's sound track (issue 13): measured like an audio file's
(peak, RMS, share of silence) on real videos made here with PyAV, by its own step
(``analysis/sound_track.py``), never by ``process_video`` (the contact-sheet path
the vcsi benchmark times)."""

from __future__ import annotations

import json

import pytest

from analysis.processing.audio import measure_sound_track
from analysis.processing.errors import MEDIA_CORRUPT, MediaProcessingError
from analysis.processing.options import ProcessingOptions
from analysis.processing.video import process_video
from analysis.sound_track import LoudnessBounds, loudness_metadata, measure_video_loudness
from tests.processing import media_factory as make

HALF_SCALE_SINE_PEAK = -6.02  # 20*log10(0.5)
HALF_SCALE_SINE_RMS = -9.03  # 20*log10(0.5/sqrt(2))
# AAC is lossy (its filters overshoot a little) and pads the track's start and end.
AAC_TOLERANCE_DB = 0.6
UNBOUNDED = LoudnessBounds(max_audio_seconds=10_000, seconds=60)


@pytest.fixture(scope="module")
def tone_then_silence(tmp_path_factory):
    """4 s of video; its sound: 2 s of a half-scale 440 Hz tone, then 2 s of silence."""
    path = tmp_path_factory.mktemp("sound") / "tone_then_silence.mp4"
    return make.make_video(path, seconds=4.0, audio_silent_seconds=2.0)


@pytest.fixture(scope="module")
def mute_video(tmp_path_factory):
    return make.make_video(tmp_path_factory.mktemp("mute") / "mute.mp4", with_audio=False)


def test_the_sound_track_is_measured_like_an_audio_file(tone_then_silence):
    loudness = measure_sound_track(
        tone_then_silence, ProcessingOptions(), max_audio_seconds=10_000, seconds=60
    )
    assert loudness.peak_dbfs == pytest.approx(HALF_SCALE_SINE_PEAK, abs=AAC_TOLERANCE_DB)
    # Half the time at -9.03 dBFS, half silent: the mean square halves (-3.01 dB).
    assert loudness.rms_dbfs == pytest.approx(HALF_SCALE_SINE_RMS - 3.01, abs=AAC_TOLERANCE_DB)
    assert loudness.silence_ratio == pytest.approx(0.5, abs=0.05)
    assert loudness.windows == pytest.approx(4.0 / 0.05, abs=4)  # 50 ms windows over ~4 s
    assert loudness.measured_s is None  # all of it
    assert "measured_s" not in loudness.as_dict()


def test_the_silence_threshold_and_window_come_from_the_options(tone_then_silence):
    # A threshold above the tone's level counts every window as silence.
    loose = ProcessingOptions(silence_threshold_dbfs=-3.0, silence_window_ms=100)
    loudness = measure_sound_track(tone_then_silence, loose, max_audio_seconds=10_000, seconds=60)
    assert loudness.silence_ratio == 1.0
    assert (loudness.silence_threshold_dbfs, loudness.window_ms) == (-3.0, 100)
    assert loudness.windows == pytest.approx(4.0 / 0.1, abs=2)


def test_a_bound_on_sound_stops_the_meter_and_says_how_much_was_measured(tone_then_silence):
    loudness = measure_sound_track(
        tone_then_silence, ProcessingOptions(), max_audio_seconds=1.0, seconds=60
    )
    # Only the first second: all tone, no silence.
    assert loudness.measured_s == pytest.approx(1.0, abs=0.1)
    assert loudness.silence_ratio == 0.0
    assert loudness.rms_dbfs == pytest.approx(HALF_SCALE_SINE_RMS, abs=AAC_TOLERANCE_DB)
    assert loudness.as_dict()["measured_s"] == loudness.measured_s


def test_a_video_without_sound_gets_no_loudness_and_no_note(mute_video, tmp_path):
    assert (
        measure_sound_track(mute_video, ProcessingOptions(), max_audio_seconds=1, seconds=1) is None
    )
    facts = process_video(mute_video, tmp_path, ProcessingOptions()).facts
    step = measure_video_loudness(mute_video, facts, ProcessingOptions(), UNBOUNDED)
    assert step.facts is facts and step.note is None
    assert "loudness" not in step.facts.as_dict()
    assert loudness_metadata(step) == {}


def test_the_step_adds_loudness_to_a_video_s_facts(tone_then_silence, tmp_path):
    facts = process_video(tone_then_silence, tmp_path, ProcessingOptions()).facts
    # The contact-sheet path itself measures no loudness (vcsi does not either).
    assert facts.loudness is None and "loudness" not in facts.as_dict()

    step = measure_video_loudness(tone_then_silence, facts, ProcessingOptions(), UNBOUNDED)

    assert step.note["status"] == "completed"
    measured = step.facts.as_dict()["loudness"]
    assert measured["silence_ratio"] == pytest.approx(0.5, abs=0.05)
    assert measured["peak_dbfs"] == pytest.approx(HALF_SCALE_SINE_PEAK, abs=AAC_TOLERANCE_DB)
    assert step.facts.timings_ms["loudness_ms"] >= 0
    assert step.facts.frames == facts.frames  # nothing else changed
    json.dumps(step.facts.as_dict())
    assert loudness_metadata(step) == {"sound_track_loudness": step.note}


def test_a_damaged_sound_track_is_a_warning_not_a_failure(tone_then_silence, tmp_path, caplog):
    facts = process_video(tone_then_silence, tmp_path / "frames", ProcessingOptions())
    facts = facts.facts
    # The file the facts came from is gone by the time the step reads it again.
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 64)

    step = measure_video_loudness(damaged, facts, ProcessingOptions(), UNBOUNDED)

    assert step.facts is facts and step.facts.loudness is None
    assert step.note["status"] == "failed"
    assert step.note["code"] in {MEDIA_CORRUPT, "media_truncated"}
    assert step.note["message"]
    assert any("sound track loudness not measured" in r.getMessage() for r in caplog.records)


def test_a_missing_file_is_a_media_error_for_the_step_to_record(tmp_path):
    with pytest.raises(MediaProcessingError):
        measure_sound_track(
            tmp_path / "missing.mp4", ProcessingOptions(), max_audio_seconds=1, seconds=1
        )

"""Audio preparation and stitching against the local wire-format server: long
audio goes in chunks under the upload limit, overlapping by 2 s, and every burst
of sound comes back once, at its true time in the whole file."""

from __future__ import annotations

import wave

import pytest

from analysis.transcription.audio import SAMPLE_RATE, prepare_audio
from analysis.transcription.client import MB, TranscriptionConfig
from analysis.transcription.service import as_vtt, transcribe_media
from tests.processing.media_factory import make_video
from tests.transcription.server import Burst, make_bursts

# Two bursts on each side of the first cut (chunks of 7.3 s at 0.25 MB start every
# 5.3 s; the cut sits mid-overlap at 6.3 s), one clipped by a chunk's start, then
# more across the rest of 30 s.
BURSTS = [
    Burst(1.0, 0.8, 300),
    Burst(4.6, 0.8, 400),
    Burst(6.0, 0.8, 500),
    Burst(7.0, 0.8, 600),
    *(Burst(9.5 + 2.5 * i, 0.8, 700 + 100 * i) for i in range(8)),
    Burst(29.0, 0.8, 1500),
]


@pytest.fixture(scope="module")
def long_audio(tmp_path_factory):
    return make_bursts(tmp_path_factory.mktemp("speech") / "long.wav", BURSTS, 30.0)


def test_long_audio_is_cut_under_the_limit_with_a_two_second_overlap(long_audio, tmp_path):
    prepared = prepare_audio(long_audio, tmp_path, int(0.25 * MB))

    assert prepared is not None and prepared.duration_s == pytest.approx(30.0, abs=0.01)
    assert len(prepared.chunks) == 6
    for chunk, following in zip(prepared.chunks, prepared.chunks[1:], strict=False):
        assert following.offset_s == pytest.approx(
            chunk.offset_s + chunk.duration_s - 2.0, abs=0.002
        )
    last = prepared.chunks[-1]
    assert last.offset_s + last.duration_s == pytest.approx(30.0, abs=0.01)
    for chunk in prepared.chunks:
        assert chunk.path.stat().st_size <= 0.25 * MB
        with wave.open(str(chunk.path)) as heard:
            assert (heard.getframerate(), heard.getnchannels()) == (SAMPLE_RATE, 1)


def test_chunked_audio_is_stitched_with_absolute_times(
    long_audio, tmp_path, transcription_settings, transcription_server
):
    transcription_settings.TRANSCRIPTION_MAX_UPLOAD_MB = 0.25
    transcription_settings.TRANSCRIPTION_PRICE_PER_MINUTE_USD = 0.006

    heard = transcribe_media(long_audio, "audio", tmp_path, requested=None)

    assert len(transcription_server.uploads) == 6
    assert all(upload.size <= 0.25 * MB for upload in transcription_server.uploads)
    transcript = heard.transcript
    assert [s.text for s in transcript.segments] == [b.text for b in BURSTS]
    for segment, burst in zip(transcript.segments, BURSTS, strict=True):
        assert segment.start == pytest.approx(burst.start, abs=0.03)
        assert segment.end == pytest.approx(burst.end, abs=0.03)
    assert transcript.text == " ".join(b.text for b in BURSTS)
    assert transcript.language == "english"
    assert heard.note["status"] == "completed" and heard.note["chunks"] == 6
    # Billed by what was uploaded (the overlaps twice): 30 s + 5 x 2 s at $0.006/min.
    assert float(heard.cost_usd) == pytest.approx(0.006 * 40 / 60, abs=1e-5)


def test_the_transcript_as_webvtt(long_audio, tmp_path, transcription_settings):
    heard = transcribe_media(long_audio, "audio", tmp_path, requested=True)
    vtt = as_vtt(heard.transcript)
    assert vtt.startswith("WEBVTT\n\n1\n00:00:01.000 --> 00:00:01.800\ntone 300 Hz\n")
    assert "00:00:29.000 --> 00:00:29.800\ntone 1500 Hz" in vtt


def test_a_video_sound_track_is_transcribed_and_a_silent_video_is_noted(
    tmp_path, transcription_settings
):
    video = make_video(tmp_path / "clip.mp4", seconds=3.0)
    heard = transcribe_media(video, "video", tmp_path / "work", requested=None)
    (segment,) = heard.transcript.segments
    assert segment.text == "tone 440 Hz"
    assert segment.start == pytest.approx(0.0, abs=0.05)
    assert segment.end == pytest.approx(3.0, abs=0.1)

    silent = make_video(tmp_path / "silent.mp4", seconds=2.0, with_audio=False)
    heard = transcribe_media(silent, "video", tmp_path / "work2", requested=None)
    assert heard.transcript is None and heard.note == {"status": "no_audio"}


def test_other_media_and_transcribe_false_are_left_alone(
    tmp_path, transcription_settings, transcription_server
):
    sound = make_bursts(tmp_path / "a.wav", BURSTS[:1], 2.0)
    assert transcribe_media(sound, "image", tmp_path, requested=None).note is None
    skipped = transcribe_media(sound, "audio", tmp_path, requested=False)
    assert skipped.note["status"] == "skipped" and skipped.transcript is None
    assert transcription_server.calls == 0


def test_without_an_endpoint_nothing_is_transcribed(tmp_path, settings):
    settings.TRANSCRIPTION_BASE_URL = None
    sound = make_bursts(tmp_path / "a.wav", BURSTS[:1], 2.0)
    assert TranscriptionConfig.from_settings() is None
    assert transcribe_media(sound, "audio", tmp_path, requested=None).note is None

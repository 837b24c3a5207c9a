"""Video: probing, frames by keyframe seeking, the contact sheet, and failures."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from analysis.processing.errors import MediaProcessingError
from analysis.processing.options import ProcessingOptions
from analysis.processing.video import probe_video, process_video
from tests.processing import media_factory as make


def test_probe_reports_streams(video_mp4):
    facts = probe_video(video_mp4)
    assert facts.duration_s == pytest.approx(6.0, abs=0.1)
    video = facts.video
    assert (video.width, video.height) == (320, 240)
    assert video.frame_rate == pytest.approx(25.0)
    assert video.codec in ("h264", "mpeg4")
    assert facts.bit_rate > 0
    audio = facts.audio
    assert (audio.codec, audio.sample_rate, audio.channels) == ("aac", 48000, 2)


def test_frames_are_evenly_spread_and_named_for_storage(video_mp4, tmp_path):
    result = process_video(video_mp4, tmp_path, ProcessingOptions())
    assert [frame.path.name for frame in result.frames] == [
        f"frame_{i:03d}.jpg" for i in range(1, 7)
    ]
    times = [frame.time_s for frame in result.frames]
    # Targets are the middles of six equal slices of 6 s: 0.5, 1.5, ... 5.5 s; with
    # a keyframe every second each lands within half a slice of its target.
    for index, time_s in enumerate(times):
        assert abs(time_s - (index + 0.5)) <= 0.5 + 1e-6
    assert times == sorted(times) and len(set(times)) == 6
    for frame in result.frames:
        with Image.open(frame.path) as image:
            assert image.format == "JPEG" and image.size == (320, 240)


def test_frames_are_keyframes_when_keyframes_are_close_enough(tmp_path):
    # 30 s with a keyframe every second and 6 frames 5 s apart: every frame is a
    # keyframe, nothing is decoded past one (the whole file is never decoded).
    clip = make.make_video(tmp_path / "long.mp4", seconds=30, gop=25, with_audio=False)
    result = process_video(clip, tmp_path / "out", ProcessingOptions())
    assert all(frame.keyframe for frame in result.frames)
    assert result.facts.frames_decoded_past_keyframe == 0


def test_sparse_keyframes_fall_back_to_bounded_forward_decoding(tmp_path):
    # One keyframe for the whole clip: frames after the first need decoding forward.
    clip = make.make_video(tmp_path / "one_gop.mp4", seconds=4, gop=1000, with_audio=False)
    result = process_video(clip, tmp_path / "out", ProcessingOptions(max_forward_decode_frames=200))
    times = [frame.time_s for frame in result.frames]
    assert len(set(times)) == 6
    assert times[-1] > 3.0
    assert 0 < result.facts.frames_decoded_past_keyframe <= 6 * 200


@pytest.mark.parametrize("frames", [1, 4])
def test_clips_with_fewer_pictures_than_requested_frames(tmp_path, frames):
    clip = make.make_video(tmp_path / "tiny.mp4", seconds=frames / 25, gop=1, with_audio=False)
    result = process_video(clip, tmp_path / "out", ProcessingOptions())
    assert 1 <= len(result.frames) <= frames
    assert result.contact_sheet.frames_count == len(result.frames)
    assert result.facts.truncated is False


def test_contact_sheet_has_the_requested_layout(video_mp4, tmp_path):
    result = process_video(video_mp4, tmp_path, ProcessingOptions())
    sheet = result.contact_sheet
    assert sheet.path == tmp_path / "contact_sheet.jpg"
    assert (sheet.frames_count, sheet.grid_layout, sheet.resolution) == (6, "2x3", "1920x1080")
    with Image.open(sheet.path) as image:
        assert (image.format, image.size) == ("JPEG", (1920, 1080))
    assert sheet.size_bytes == sheet.path.stat().st_size
    json.dumps(result.facts.as_dict())  # everything measured is JSON-ready
    assert set(result.facts.timings_ms) == {"probe_ms", "frames_ms", "contact_sheet_ms"}


def test_grid_and_resolution_are_configurable(video_mkv, tmp_path):
    options = ProcessingOptions(frames_count=8, grid="4x2", resolution="1280x720")
    result = process_video(video_mkv, tmp_path, options)
    assert len(result.frames) == 8
    assert (result.contact_sheet.grid_layout, result.contact_sheet.resolution) == (
        "4x2",
        "1280x720",
    )
    with Image.open(result.contact_sheet.path) as image:
        assert image.size == (1280, 720)


def test_webm_and_no_audio_track(video_webm, video_silent, tmp_path):
    webm = process_video(video_webm, tmp_path / "webm", ProcessingOptions())
    assert webm.facts.video.codec == "vp8" and webm.facts.audio.codec == "opus"
    silent = process_video(video_silent, tmp_path / "silent", ProcessingOptions())
    assert silent.facts.audio is None and silent.facts.audio_stream_count == 0


def test_display_rotation_is_applied(tmp_path):
    clip = make.make_video(tmp_path / "portrait.mp4", seconds=1, width=320, height=240, rotation=90)
    result = process_video(clip, tmp_path / "out", ProcessingOptions(frames_count=1))
    frame = result.frames[0]
    with Image.open(frame.path) as image:
        assert image.size == (frame.width, frame.height) == (240, 320)
    # The sheet's tile is turned the same way: portrait, fitted to a 2x3 cell.
    assert frame.thumbnail.height > frame.thumbnail.width


def test_frames_are_capped_to_the_max_side(tmp_path):
    clip = make.make_video(
        tmp_path / "wide.mp4", seconds=1, width=640, height=360, with_audio=False
    )
    result = process_video(
        clip, tmp_path / "out", ProcessingOptions(max_image_side=320, frames_count=2)
    )
    with Image.open(result.frames[0].path) as image:
        assert image.size == (320, 180)


def test_audio_only_file_has_no_video_stream(tmp_path):
    audio = make.make_audio(tmp_path / "voice.m4a", fmt="m4a")
    with pytest.raises(MediaProcessingError) as caught:
        process_video(audio, tmp_path / "out", ProcessingOptions())
    assert caught.value.code == "no_video_stream"


def test_truncated_video_is_reported(video_mp4, tmp_path):
    # PyAV writes the index (moov) at the end, so a cut file has none.
    cut = make.truncate(video_mp4, tmp_path / "cut.mp4", 0.6)
    with pytest.raises(MediaProcessingError) as caught:
        process_video(cut, tmp_path / "out", ProcessingOptions())
    assert caught.value.code == "media_truncated"
    assert "send the complete file again" in caught.value.message


def test_truncated_matroska_missing_its_end(video_mkv, tmp_path):
    cut = make.truncate(video_mkv, tmp_path / "cut.mkv", 0.5)
    with pytest.raises(MediaProcessingError) as caught:
        process_video(cut, tmp_path / "out", ProcessingOptions())
    assert caught.value.code == "media_truncated"
    # Asked to make do, it returns what the first half holds and says so.
    partial = process_video(cut, tmp_path / "partial", ProcessingOptions(allow_truncated=True))
    assert partial.facts.truncated is True
    assert 0 < len(partial.frames) < 6


def test_garbage_with_a_video_signature_is_corrupt(tmp_path):
    path = tmp_path / "broken.mkv"
    path.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 40)
    with pytest.raises(MediaProcessingError) as caught:
        process_video(path, tmp_path / "out", ProcessingOptions())
    assert caught.value.code in ("media_corrupt", "media_truncated")

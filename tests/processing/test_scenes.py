"""Frames chosen by scene (issue 13): a cut between clips is found from keyframe
signatures, black and repeated pictures are passed over, every frame keeps its
source timestamp, and the contact sheet labels it."""

from __future__ import annotations

import pytest
from PIL import Image, ImageChops, ImageStat

from analysis.processing.contact_sheet import SheetTile, compose_contact_sheet
from analysis.processing.options import ProcessingOptions
from analysis.processing.scenes import IndexedKeyframe, index_hints
from analysis.processing.video import process_video
from tests.processing import media_factory as make

# Three clips of different content; the middle one is short and falls between
# the times an even spread of six frames lands on (1.6, 4.8, 7.9, 11.1, 14.3, 17.4 s).
CLIPS = [("warm", 9.3), ("checker", 1.6), ("noise", 8.1)]


def clip_ranges(clips) -> list[tuple[float, float]]:
    ranges, start = [], 0.0
    for _, seconds in clips:
        ranges.append((start, start + seconds))
        start += seconds
    return ranges


def clips_shown(frames, clips) -> set[int]:
    shown = set()
    for frame in frames:
        for number, (start, end) in enumerate(clip_ranges(clips)):
            if start <= frame.time_s < end:
                shown.add(number)
    return shown


@pytest.fixture(scope="module")
def joined(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scenes")
    return make.make_joined_video(folder / "joined.mp4", CLIPS)


def test_three_joined_clips_each_give_a_frame_with_its_timestamp(joined, tmp_path):
    result = process_video(joined, tmp_path, ProcessingOptions(frames_count=6))
    frames = result.frames
    assert 3 <= len(frames) <= 6
    # Every timestamp lies inside one clip's time range, and every clip is shown.
    assert clips_shown(frames, CLIPS) == {0, 1, 2}
    times = [frame.time_s for frame in frames]
    assert times == sorted(times) and len(set(times)) == len(times)
    selection = result.facts.frame_selection
    assert (selection.method, selection.scan) == ("scenes", "full")
    assert selection.keyframes_decoded == selection.keyframes_indexed == 19
    # The cuts are found at the first keyframe after each (every second here).
    assert selection.scene_changes_s == (10.0, 11.0)
    assert {frame.scene for frame in frames} == {1, 2, 3}


def test_the_facts_number_the_frames_and_keep_their_timestamps(joined, tmp_path):
    result = process_video(joined, tmp_path, ProcessingOptions(frames_count=6))
    stored = result.facts.as_dict()["frames"]
    assert [frame["index"] for frame in stored] == list(range(1, len(stored) + 1))
    assert [frame["time_s"] for frame in stored] == [round(f.time_s, 3) for f in result.frames]
    assert [frame["scene"] for frame in stored] == [f.scene for f in result.frames]
    assert [frame.path.name for frame in result.frames] == [
        f"frame_{frame['index']:03d}.jpg" for frame in stored
    ]
    assert result.facts.as_dict()["frame_selection"]["method"] == "scenes"


@pytest.mark.skipif(make.VIDEO_CODEC != "libx264", reason="needs x264's scene-cut keyframes")
def test_the_index_points_at_cuts_without_decoding_every_keyframe(tmp_path):
    # Long groups of pictures, with x264 starting a new one at each cut (as it does
    # by default) and a scan budget of nothing: the index alone finds the cuts.
    video = make.make_joined_video(tmp_path / "cuts.mp4", CLIPS, gop=50, scenecut=True)
    result = process_video(video, tmp_path / "out", ProcessingOptions(scene_scan_pixels=0))
    selection = result.facts.frame_selection
    assert selection.scan == "screened"
    assert selection.keyframes_decoded < selection.keyframes_indexed
    assert clips_shown(result.frames, CLIPS) == {0, 1, 2}


def test_black_keyframes_are_passed_over(tmp_path):
    clips = [("black", 3.0), ("warm", 9.0)]
    video = make.make_joined_video(tmp_path / "fade.mp4", clips)
    result = process_video(video, tmp_path / "out", ProcessingOptions(frames_count=6))
    assert len(result.frames) == 6
    assert all(frame.time_s >= 3.0 for frame in result.frames)
    assert result.facts.frame_selection.skipped_black == 3  # the keyframes at 0, 1 and 2 s
    for frame in result.frames:
        with Image.open(frame.path) as image:
            assert ImageStat.Stat(image.convert("L")).mean[0] > 60


def test_near_duplicate_keyframes_give_one_frame(tmp_path):
    # Eight seconds of one still picture: eight identical keyframes, shown once.
    clips = [("still", 8.0), ("checker", 4.0)]
    video = make.make_joined_video(tmp_path / "still.mp4", clips)
    result = process_video(video, tmp_path / "out", ProcessingOptions(frames_count=6))
    still = [frame for frame in result.frames if frame.time_s < 8.0]
    assert len(still) == 1
    assert clips_shown(result.frames, clips) == {0, 1}
    assert result.facts.frame_selection.skipped_duplicate >= 7
    assert len(result.frames) < 6  # the budget is a ceiling, not a quota


def test_even_spread_when_there_are_no_more_keyframes_than_frames(video_mp4, tmp_path):
    result = process_video(video_mp4, tmp_path, ProcessingOptions(frames_count=6))
    selection = result.facts.frame_selection
    assert (selection.method, selection.scan) == ("even", None)
    assert all(frame.scene is None for frame in result.frames)


def test_the_sheet_labels_each_frame_with_its_timestamp(joined, tmp_path):
    result = process_video(joined, tmp_path, ProcessingOptions(frames_count=6))
    options = ProcessingOptions()
    bare = compose_contact_sheet(
        [SheetTile(frame.thumbnail) for frame in result.frames],
        tmp_path / "bare.jpg",
        grid=options.grid_parsed,
        resolution=options.resolution_parsed,
    )
    with Image.open(result.contact_sheet.path) as labelled, Image.open(bare.path) as unlabelled:
        difference = ImageChops.difference(labelled.convert("L"), unlabelled.convert("L"))
        # The labels sit at each tile's lower left corner: the sheets differ there.
        changed = difference.point(lambda value: 255 if value > 60 else 0).getbbox()
        assert changed is not None
        cell_h = labelled.height // 3
        for row in range(3):
            band = difference.crop((0, row * cell_h, labelled.width // 2, (row + 1) * cell_h))
            assert ImageStat.Stat(band).extrema[0][1] > 60


def test_index_hints_find_keyframes_off_the_cadence_or_of_another_size():
    regular = [IndexedKeyframe(pts=i * 100, size=5000) for i in range(10)]
    assert index_hints(regular, limit=6) == []
    # An encoder starts a group at a cut (330) and counts its cadence from there.
    cut = [*regular[:4], *(IndexedKeyframe(pts=330 + i * 100, size=5000) for i in range(6))]
    assert index_hints(cut, limit=6) == [4]  # 30 after the one before, not 100
    heavier = [*regular[:5], *(IndexedKeyframe(k.pts, 15000) for k in regular[5:])]
    assert index_hints(heavier, limit=6) == [5]
    assert index_hints(heavier, limit=0) == []

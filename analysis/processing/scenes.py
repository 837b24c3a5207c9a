"""Which frames of a video to show: scene changes found from keyframes, even
coverage as the fallback, black, blurry and near-duplicate pictures passed over.

Everything here works on small signatures, never on the video itself: the frame
grabber (``video.py``) decodes keyframes, with the decoder skipping every other
picture, and hands each one to ``signature_of``; ``choose_frames`` then picks from
those. Two ways of finding candidates, so a long high-resolution video costs about
what an even spread does:

- ``full scan``: when the container's index lists few enough keyframe pixels
  (``ProcessingOptions.scene_scan_pixels``), every keyframe is decoded and
  compared with the one before it.
- ``screened``: otherwise the index alone says where scenes probably change (a
  keyframe the encoder put off its regular cadence, which encoders do at a cut,
  or one whose compressed size jumps), and only those keyframes, the ones nearest
  evenly spaced times, and a spare next to any picture that turns out black,
  blurry or a repeat are decoded.

Signatures use Pillow alone (no numpy): the command-line run that the vcsi
benchmark times pays for every import.
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageFilter

# The picture a signature is measured on: about 1/10 of 1080p, large enough that
# a blurred frame still reads softer than its neighbours.
SIGNATURE_SIZE = (192, 108)
# The thumbnail compared for repeats and cuts: 16x9 cells of mean colour.
THUMB_SIZE = (16, 9)
# Black: dark on average with (almost) nothing bright in it. Luma 0..255.
BLACK_MEAN_LUMA = 24.0
BLACK_BRIGHT_LUMA = 48
# A cut: the colours changed (histogram) and so did the layout (thumbnail). Either
# alone is a camera move or a lighting change within one scene.
CUT_HISTOGRAM_DISTANCE = 0.35
CUT_THUMB_DIFFERENCE = 20.0
# A repeat: the same picture, give or take encoder noise and a small movement.
DUPLICATE_THUMB_DIFFERENCE = 4.0
DUPLICATE_HISTOGRAM_DISTANCE = 0.1
# Blurry: this much less edge energy than the median of its scene's keyframes
# (smooth scenes are not blurry; a motion-blurred keyframe among sharp ones is).
BLURRY_SHARPNESS_SHARE = 0.4
MIN_KEYFRAMES_TO_JUDGE_BLUR = 3
# Index hints: a keyframe this much closer to the one before than the regular
# interval, or this many times larger or smaller than the one before.
HINT_GAP_SHARE = 0.75
HINT_SIZE_RATIO = 2.0

_LAPLACIAN = ImageFilter.Kernel((3, 3), [0, -1, 0, -1, 4, -1, 0, -1, 0], scale=1, offset=128)
# Two bits per channel: a joint 4x4x4 colour histogram.
_RED_BINS = [(value >> 6) << 4 for value in range(256)]
_GREEN_BINS = [(value >> 6) << 2 for value in range(256)]
_BLUE_BINS = [value >> 6 for value in range(256)]


@dataclass(frozen=True)
class FrameSignature:
    """What is compared between keyframes: brightness, edge energy, a 16x9 colour
    thumbnail and a 64-bin colour histogram (shares summing to 1)."""

    mean_luma: float
    bright_luma: int  # the 98th percentile
    sharpness: float
    thumb: bytes
    histogram: tuple[float, ...]

    @property
    def black(self) -> bool:
        return self.mean_luma < BLACK_MEAN_LUMA and self.bright_luma < BLACK_BRIGHT_LUMA


def signature_of(picture: Image.Image) -> FrameSignature:
    """The signature of a small RGB picture (the caller scales a decoded frame to
    ``SIGNATURE_SIZE`` with swscale, far cheaper than converting it whole)."""
    rgb = picture if picture.mode == "RGB" else picture.convert("RGB")
    gray = rgb.convert("L")
    luma = gray.histogram()
    pixels = sum(luma)
    mean = sum(value * count for value, count in enumerate(luma)) / pixels
    edges = gray.filter(_LAPLACIAN).histogram()
    sharpness = sum(abs(value - 128) * count for value, count in enumerate(edges)) / pixels
    red, green, blue = rgb.split()
    joint = ImageChops.add(
        ImageChops.add(red.point(_RED_BINS), green.point(_GREEN_BINS)), blue.point(_BLUE_BINS)
    )
    bins = joint.histogram()[:64]
    return FrameSignature(
        mean_luma=round(mean, 2),
        bright_luma=_percentile(luma, pixels, 0.98),
        sharpness=round(sharpness, 3),
        thumb=rgb.resize(THUMB_SIZE, Image.Resampling.BOX).tobytes(),
        histogram=tuple(count / pixels for count in bins),
    )


def _percentile(histogram: list[int], total: int, share: float) -> int:
    seen = 0
    for value, count in enumerate(histogram):
        seen += count
        if seen >= share * total:
            return value
    return len(histogram) - 1


def thumb_difference(a: FrameSignature, b: FrameSignature) -> float:
    """Mean absolute difference of the thumbnails, 0..255."""
    return sum(abs(x - y) for x, y in zip(a.thumb, b.thumb, strict=True)) / len(a.thumb)


def histogram_distance(a: FrameSignature, b: FrameSignature) -> float:
    """Half the L1 distance of the colour histograms: 0 same colours, 1 none shared."""
    return sum(abs(x - y) for x, y in zip(a.histogram, b.histogram, strict=True)) / 2


def is_cut(before: FrameSignature, after: FrameSignature) -> bool:
    return (
        histogram_distance(before, after) >= CUT_HISTOGRAM_DISTANCE
        and thumb_difference(before, after) >= CUT_THUMB_DIFFERENCE
    )


def is_duplicate(a: FrameSignature, b: FrameSignature) -> bool:
    return (
        thumb_difference(a, b) < DUPLICATE_THUMB_DIFFERENCE
        and histogram_distance(a, b) < DUPLICATE_HISTOGRAM_DISTANCE
    )


# --- which keyframes to decode ------------------------------------------------------


@dataclass(frozen=True)
class IndexedKeyframe:
    """A keyframe as the container's index lists it: no decoding needed."""

    pts: int
    size: int


def index_hints(keyframes: Sequence[IndexedKeyframe], limit: int) -> list[int]:
    """Up to ``limit`` positions in ``keyframes`` where a scene probably starts,
    strongest first, from the index alone: encoders with scene-cut detection
    (x264, x265, libvpx, most hardware) start a new group of pictures at a cut,
    off their regular cadence; and an intra picture's size follows its content's
    detail, so a jump in size is a change of content."""
    if len(keyframes) < 3 or limit <= 0:
        return []
    gaps = [b.pts - a.pts for a, b in itertools.pairwise(keyframes)]
    regular = statistics.median(gaps)
    scored: list[tuple[float, int]] = []
    for position in range(1, len(keyframes)):
        gap = gaps[position - 1]
        score = 0.0
        if regular > 0 and gap < HINT_GAP_SHARE * regular:
            score += 1 - gap / regular
        previous, size = keyframes[position - 1].size, keyframes[position].size
        if previous > 0 and size > 0:
            ratio = max(size / previous, previous / size)
            if ratio >= HINT_SIZE_RATIO:
                score += ratio / HINT_SIZE_RATIO - 0.5
        if score > 0:
            scored.append((score, position))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [position for _, position in scored[:limit]]


def nearest_keyframes(keys: Sequence[int], targets: Sequence[int]) -> list[int]:
    """For each target pts, the position of the nearest keyframe not taken by an
    earlier target (so ``len(keys) >= len(targets)`` gives distinct keyframes)."""
    taken: set[int] = set()
    picks = []
    for target in targets:
        at = bisect.bisect_left(keys, target)
        best = None
        for offset in range(len(keys)):
            options = [p for p in (at - 1 - offset, at + offset) if 0 <= p < len(keys)]
            free = [p for p in options if p not in taken]
            if free:
                best = min(free, key=lambda p: (abs(keys[p] - target), p))
                break
        if best is None:
            break
        taken.add(best)
        picks.append(best)
    return picks


# --- choosing from decoded keyframes -----------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A decoded keyframe: where it is and its signature."""

    pts: int
    time_s: float
    signature: FrameSignature


@dataclass(frozen=True)
class Choice:
    candidate: Candidate
    scene: int  # 1 for the first scene found, in time order


@dataclass(frozen=True)
class Selection:
    chosen: tuple[Choice, ...]  # in time order
    scene_starts: tuple[float, ...]  # seconds where each scene after the first begins
    skipped_black: int
    skipped_blurry: int
    skipped_duplicate: int


@dataclass
class _Scene:
    number: int
    start_s: float
    end_s: float
    pool: list[Candidate]
    allotted: int = 0
    cap: int = 0

    @property
    def span(self) -> float:
        return max(self.end_s - self.start_s, 1e-6)


def find_scenes(candidates: Sequence[Candidate]) -> list[list[Candidate]]:
    """Consecutive candidates grouped into scenes: a new scene wherever one differs
    from the one before it by a cut."""
    scenes: list[list[Candidate]] = []
    for candidate in candidates:
        if scenes and not is_cut(scenes[-1][-1].signature, candidate.signature):
            scenes[-1].append(candidate)
        else:
            scenes.append([candidate])
    return scenes


def choose_frames(
    candidates: Sequence[Candidate], count: int, start_s: float, end_s: float
) -> Selection:
    """At most ``count`` of ``candidates``: every scene gets a frame while the
    budget lasts (the longest scenes first when there are more scenes than
    frames), the rest go to scenes by length, spread evenly inside each, with
    black, blurry and repeated pictures passed over."""
    ordered = sorted(candidates, key=lambda c: c.pts)
    usable = [c for c in ordered if not c.signature.black]
    skipped_black = len(ordered) - len(usable)
    if not usable:  # an all-black video still shows what it has
        usable, skipped_black = ordered, 0
    groups = find_scenes(usable)
    scenes: list[_Scene] = []
    skipped_blurry = 0
    for number, group in enumerate(groups, start=1):
        pool = _without_blurry(group)
        skipped_blurry += len(group) - len(pool)
        scene_start = start_s if number == 1 else group[0].time_s
        scenes.append(_Scene(number, scene_start, end_s, pool, cap=len(pool)))
    for scene, following in itertools.pairwise(scenes):
        scene.end_s = following.start_s
    chosen, skipped_duplicate = _fill(scenes, count)
    chosen.sort(key=lambda choice: choice.candidate.pts)
    return Selection(
        chosen=tuple(chosen),
        scene_starts=tuple(round(scene.start_s, 3) for scene in scenes[1:]),
        skipped_black=skipped_black,
        skipped_blurry=skipped_blurry,
        skipped_duplicate=skipped_duplicate,
    )


def _without_blurry(group: list[Candidate]) -> list[Candidate]:
    if len(group) < MIN_KEYFRAMES_TO_JUDGE_BLUR:
        return list(group)
    median = statistics.median(c.signature.sharpness for c in group)
    sharp = [c for c in group if c.signature.sharpness >= BLURRY_SHARPNESS_SHARE * median]
    return sharp or list(group)


def _allot(scenes: list[_Scene], count: int) -> None:
    """One frame per scene (the longest first when they outnumber the frames), then
    the rest by length: each next frame to the scene with the most seconds per
    frame, never more than the scene has pictures for."""
    for scene in scenes:
        scene.allotted = 0
    open_scenes = [s for s in scenes if s.cap > 0]
    for scene in sorted(open_scenes, key=lambda s: (-s.span, s.start_s))[:count]:
        scene.allotted = 1
    left = count - sum(s.allotted for s in scenes)
    while left > 0:
        growing = [s for s in open_scenes if 0 < s.allotted < s.cap]
        if not growing:
            break
        best = max(growing, key=lambda s: (s.span / (s.allotted + 1), -s.start_s))
        best.allotted += 1
        left -= 1


def _fill(scenes: list[_Scene], count: int) -> tuple[list[Choice], int]:
    """Allot, pick near evenly spaced times inside each scene, and allot again
    when a scene runs out of distinct pictures (its repeats do not count). The
    second value counts the keyframes passed over as repeats of a chosen one."""
    repeats: set[int] = set()
    while True:
        _allot(scenes, count)
        chosen: list[Choice] = []
        short = False
        for scene in sorted(scenes, key=lambda s: s.start_s):
            picked = _pick(scene, chosen, repeats)
            chosen.extend(Choice(candidate, scene.number) for candidate in picked)
            if len(picked) < scene.allotted:
                scene.cap = len(picked)  # all it can give: let others have the rest
                short = True
        if not short:
            return chosen, len(repeats - {choice.candidate.pts for choice in chosen})


def _pick(scene: _Scene, chosen: list[Choice], repeats: set[int]) -> list[Candidate]:
    """The scene's allotted frames: for each evenly spaced slot the nearest of its
    keyframes that repeats nothing chosen so far (repeats are noted in ``repeats``)."""
    picked: list[Candidate] = []
    kept = [choice.candidate.signature for choice in chosen]
    for slot in range(scene.allotted):
        target = scene.start_s + scene.span * (slot + 0.5) / scene.allotted
        for candidate in sorted(scene.pool, key=lambda c: (abs(c.time_s - target), c.pts)):
            if candidate in picked:
                continue
            if any(is_duplicate(candidate.signature, other) for other in kept):
                repeats.add(candidate.pts)
                continue
            picked.append(candidate)
            kept.append(candidate.signature)
            break
    return picked

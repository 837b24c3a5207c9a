"""Video: probe the streams, pull up to N frames by seeking to keyframes, and lay
them out on a contact sheet labelled with each frame's timestamp.

Speed comes from never decoding the whole file: we seek to a keyframe and decode
that one picture with the decoder told to skip everything but keyframes.

Which keyframes: when the container's index lists more keyframes than frames
asked, scenes decide (``analysis.processing.scenes``: a small signature per
decoded keyframe, cuts between consecutive ones, black, blurry and repeated
pictures passed over, even coverage inside and across scenes). Otherwise, or
with no index, frames are evenly spaced: for each target time the nearest
keyframe, and only when two targets would land on the same keyframe (short
clips, sparse keyframes) do we decode forward from the keyframe to the target,
bounded by ``max_forward_decode_frames``.
"""

from __future__ import annotations

import bisect
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av
from PIL import Image

from analysis.processing.avcommon import (
    audio_stream_facts,
    av_errors,
    container_duration_seconds,
    container_facts,
    missing_stream_error,
    open_input,
    real_video_streams,
    stream_duration_seconds,
    video_stream_facts,
)
from analysis.processing.contact_sheet import (
    ContactSheet,
    SheetTile,
    cell_size,
    compose_contact_sheet,
    fit_size,
    format_timestamp,
)
from analysis.processing.errors import (
    IMAGE_TOO_LARGE,
    MEDIA_CORRUPT,
    MEDIA_TRUNCATED,
    NO_VIDEO_STREAM,
    PROCESSING_FAILED,
    MediaProcessingError,
)
from analysis.processing.facts import (
    FrameFacts,
    FrameSelectionFacts,
    VideoFacts,
    VideoProbe,
    field_values,
)
from analysis.processing.keyframes import KeyframeReader
from analysis.processing.options import OnFrame, ProcessingOptions
from analysis.processing.scenes import (
    SIGNATURE_SIZE,
    Candidate,
    IndexedKeyframe,
    choose_frames,
    index_hints,
    is_duplicate,
    nearest_keyframes,
    signature_of,
)

# Below this length, timestamps on the sheet show tenths of a second.
SHORT_CLIP_SECONDS = 60
# Decoded keyframes kept in memory between choosing and saving; past this a
# chosen one is decoded again (only at very large resolutions).
RETAINED_FRAME_BYTES = 96 * 1024 * 1024


@dataclass(frozen=True)
class ExtractedFrame:
    path: Path  # the saved JPEG: display orientation, longest side capped
    time_s: float
    keyframe: bool
    width: int
    height: int
    thumbnail: Image.Image  # already the size of a contact-sheet cell
    index: int  # 1-based, time order: frame_{index:03d}.jpg
    scene: int | None = None  # when chosen by scene

    def as_facts(self) -> FrameFacts:
        return FrameFacts(
            path=str(self.path),
            time_s=round(self.time_s, 3),
            keyframe=self.keyframe,
            width=self.width,
            height=self.height,
            index=self.index,
            scene=self.scene,
        )


@dataclass(frozen=True)
class VideoResult:
    facts: VideoFacts
    frames: list[ExtractedFrame]
    contact_sheet: ContactSheet


def frame_filename(index: int) -> str:
    """``frame_001.jpg`` for the first frame: the names the storage layout expects."""
    return f"frame_{index:03d}.jpg"


def process_video(
    path: Path, work_dir: Path, options: ProcessingOptions, *, on_frame: OnFrame | None = None
) -> VideoResult:
    """Probe ``path``, save frames as ``work_dir/frame_NNN.jpg`` and the sheet as
    ``work_dir/contact_sheet.jpg``; facts include the time each stage took.
    ``on_frame(extracted, planned)`` is called as each frame is taken."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with open_input(path, "video") as container:
        streams = real_video_streams(container)
        if not streams:
            raise missing_stream_error(
                path,
                "video",
                NO_VIDEO_STREAM,
                "The file has no video picture stream (it may be audio only).",
            )
        stream = streams[0]
        probe = _probe_facts(container, stream, path)
        timings["probe_ms"] = _ms_since(started)

        mark = time.perf_counter()
        grabber = _FrameGrabber(container, stream, options, on_frame)
        frames = grabber.grab(options.frames_count, work_dir)
        timings["frames_ms"] = _ms_since(mark)

    mark = time.perf_counter()
    short = (probe.duration_s or 0) < SHORT_CLIP_SECONDS
    sheet = compose_contact_sheet(
        [
            SheetTile(frame.thumbnail, format_timestamp(frame.time_s, tenths=short))
            for frame in frames
        ],
        work_dir / "contact_sheet.jpg",
        grid=options.grid_parsed,
        resolution=options.resolution_parsed,
        jpeg_quality=options.jpeg_quality,
    )
    timings["contact_sheet_ms"] = _ms_since(mark)
    facts = VideoFacts(
        **field_values(probe),
        frames=tuple(frame.as_facts() for frame in frames),
        frames_requested=options.frames_count,
        frames_decoded_past_keyframe=grabber.forward_decoded,
        decode_errors=grabber.decode_errors,
        frames_skipped_as_repeats=grabber.repeats_skipped,
        truncated=grabber.missing > 0,
        contact_sheet=sheet.as_facts(),
        timings_ms=timings,
        frame_selection=grabber.selection,
    )
    return VideoResult(facts=facts, frames=frames, contact_sheet=sheet)


def probe_video(path: Path) -> VideoProbe:
    """The facts about a video file without extracting anything."""
    with open_input(path, "video") as container:
        streams = real_video_streams(container)
        if not streams:
            raise missing_stream_error(
                path, "video", NO_VIDEO_STREAM, "The file has no video picture stream."
            )
        return _probe_facts(container, streams[0], path)


def _probe_facts(container, stream, path: Path) -> VideoProbe:
    audio = container.streams.audio
    return VideoProbe(
        **field_values(container_facts(container, path)),
        video=video_stream_facts(stream),
        video_stream_count=len(real_video_streams(container)),
        audio=audio_stream_facts(audio[0]) if audio else None,
        audio_stream_count=len(audio),
    )


def _ms_since(mark: float) -> float:
    return round((time.perf_counter() - mark) * 1000, 1)


class _FrameGrabber(KeyframeReader):
    """Pulls frames from one open video stream: by scene, or at evenly spaced times."""

    def __init__(self, container, stream, options: ProcessingOptions, on_frame: OnFrame | None):
        super().__init__(container, stream, options)
        self.on_frame = on_frame
        self.missing = 0
        self.repeats_skipped = 0
        self.selection: FrameSelectionFacts | None = None
        rate = stream.average_rate or stream.guessed_rate
        self.frame_interval = float(1 / rate) if rate else 0.04
        self.tile_box = cell_size(options.grid_parsed, options.resolution_parsed)
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > options.max_image_pixels:
            raise MediaProcessingError(
                IMAGE_TOO_LARGE,
                f"The video's pictures are {width}x{height}, more than the "
                f"{options.max_image_pixels} pixels this service accepts.",
            )
        self.pixels = max(1, width * height)
        # Slice threads help a single 1080p+ keyframe; frame threads would only
        # add latency since we decode one picture per seek.
        stream.thread_type = "SLICE"
        self._retained: dict[int, av.VideoFrame] = {}
        self._retained_bytes = 0

    def grab(self, count: int, out_dir: Path) -> list[ExtractedFrame]:
        start_s = (
            float(self.stream.start_time * self.time_base)
            if self.stream.start_time is not None
            else 0.0
        )
        duration_s = stream_duration_seconds(self.stream) or container_duration_seconds(
            self.container
        )
        if not duration_s:
            duration_s = self._scan_duration(start_s)
        keys = self._indexed_keyframes()
        out_dir.mkdir(parents=True, exist_ok=True)
        # JPEG encoding releases the GIL: saving overlaps preparing the next frame, and
        # two savers keep up when choosing by scene hands over the frames in a burst.
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="frame-save") as saver:
            self._saver, self._saves = saver, []
            if len(keys) > count:
                frames = self._grab_by_scenes(keys, count, start_s, duration_s, out_dir)
            else:
                frames = self._grab_evenly(keys, count, start_s, duration_s, out_dir)
            for save in self._saves:
                save.result()
        if self.missing and not frames:
            raise MediaProcessingError(
                MEDIA_TRUNCATED if self.decode_errors == 0 else MEDIA_CORRUPT,
                "No picture could be decoded from the video: the file is cut short or damaged.",
            )
        if self.missing and not self.options.allow_truncated:
            raise MediaProcessingError(
                MEDIA_TRUNCATED,
                f"The video ends before its declared length ({duration_s:.1f} s): "
                f"{self.missing} positions that should hold a picture have none. "
                "Send the complete file again.",
            )
        return frames

    def _emit(self, frame, scene: int | None, frames: list[ExtractedFrame], out_dir: Path) -> None:
        """Scale ``frame`` for saving and for the sheet, queue its JPEG, keep it."""
        index = len(frames) + 1
        extracted, full = self._extract(frame, out_dir / frame_filename(index), index, scene)
        self._saves.append(self._saver.submit(self._write_jpeg, full, extracted.path))
        frames.append(extracted)
        if self.on_frame is not None:
            self.on_frame(len(frames), self.options.frames_count)

    # --- evenly spaced -----------------------------------------------------------

    def _grab_evenly(
        self,
        keys: list[IndexedKeyframe],
        count: int,
        start_s: float,
        duration_s: float,
        out_dir: Path,
    ) -> list[ExtractedFrame]:
        self.selection = FrameSelectionFacts(
            method="even",
            scan=None,
            keyframes_indexed=len(keys),
            keyframes_decoded=0,
            scene_changes_s=(),
            skipped_black=0,
            skipped_blurry=0,
            skipped_duplicate=0,
        )
        targets = [start_s + duration_s * (i + 0.5) / count for i in range(count)]
        target_pts = [int(t / self.time_base) for t in targets]
        # A keyframe further than half the spacing from its target would make the
        # sheet uneven: then decode forward from the keyframe before the target.
        tolerance = int(duration_s / count / 2 / self.time_base)
        plan = self._keyframe_plan(target_pts, tolerance, [key.pts for key in keys])
        frames: list[ExtractedFrame] = []
        last_pts: int | None = None
        for target, keyframe_pts in zip(target_pts, plan, strict=True):
            frame = self._keyframe_at(keyframe_pts if keyframe_pts is not None else target)
            if frame is None:  # nothing where the index says pictures are
                self.missing += 1
                continue
            if frame.pts is not None:
                repeated = last_pts is not None and frame.pts <= last_pts
                if repeated or abs(frame.pts - target) > tolerance:
                    closer = self._decode_forward_to(target, after_pts=last_pts)
                    if closer is None and repeated:
                        # Nothing after the last picture. Near the target that is a
                        # clip with fewer pictures than requested (fewer frames, no
                        # error); far before it, the data stops short of its length.
                        if (target - last_pts) * self.time_base > max(
                            tolerance * self.time_base, 2 * self.frame_interval
                        ):
                            self.missing += 1
                        else:
                            self.repeats_skipped += 1
                        continue
                    frame = closer or frame
            last_pts = frame.pts
            self._emit(frame, None, frames, out_dir)
        return frames

    # --- by scene ----------------------------------------------------------------

    def _grab_by_scenes(
        self,
        keys: list[IndexedKeyframe],
        count: int,
        start_s: float,
        duration_s: float,
        out_dir: Path,
    ) -> list[ExtractedFrame]:
        """Decode keyframes for their signatures (all of them when their pixels fit
        the scan budget, else the screened few), choose, and save the chosen."""
        key_pts = [key.pts for key in keys]
        full_scan = len(keys) * self.pixels <= self.options.scene_scan_pixels
        candidates: dict[int, Candidate] = {}
        decoded: set[int] = set()
        if full_scan:
            self._decode_candidates(range(len(keys)), key_pts, candidates, decoded)
        else:
            targets = [
                int((start_s + duration_s * (i + 0.5) / count) / self.time_base)
                for i in range(count)
            ]
            primary = nearest_keyframes(key_pts, targets)
            hinted = index_hints(keys, limit=count)
            self._decode_candidates([*primary, *hinted], key_pts, candidates, decoded)
            spares = self._spare_positions(candidates, key_pts, decoded, limit=count)
            self._decode_candidates(spares, key_pts, candidates, decoded)
        selection = choose_frames(list(candidates.values()), count, start_s, start_s + duration_s)
        self.repeats_skipped = selection.skipped_duplicate
        self.selection = FrameSelectionFacts(
            method="scenes",
            scan="full" if full_scan else "screened",
            keyframes_indexed=len(keys),
            keyframes_decoded=len(decoded),
            scene_changes_s=selection.scene_starts,
            skipped_black=selection.skipped_black,
            skipped_blurry=selection.skipped_blurry,
            skipped_duplicate=selection.skipped_duplicate,
        )
        frames: list[ExtractedFrame] = []
        for choice in selection.chosen:
            pts = choice.candidate.pts
            frame = self._retained.pop(pts, None) or self._keyframe_at(pts)
            if frame is None:
                self.missing += 1
                continue
            self._emit(frame, choice.scene, frames, out_dir)
        self._retained.clear()
        return frames

    def _decode_candidates(
        self,
        positions,
        key_pts: list[int],
        candidates: dict[int, Candidate],
        decoded: set[int],
    ) -> None:
        """Decode the keyframes at ``positions`` (once each) into signed candidates,
        keeping the decoded pictures while they fit ``RETAINED_FRAME_BYTES``."""
        for position in positions:
            if position in decoded:
                continue
            decoded.add(position)
            frame = self._keyframe_at(key_pts[position], indexed=True)
            # pts never precede the index's (decoding) timestamps: an earlier
            # picture means the seek fell back because the data is not there.
            if frame is None or (frame.pts is not None and frame.pts < key_pts[position]):
                self.missing += 1
                continue
            pts = frame.pts if frame.pts is not None else key_pts[position]
            if pts in candidates:
                continue
            with av_errors("video"):
                small = frame.to_image(
                    width=SIGNATURE_SIZE[0], height=SIGNATURE_SIZE[1], interpolation="AREA"
                )
            candidates[pts] = Candidate(pts, float(pts * self.time_base), signature_of(small))
            size = sum(plane.buffer_size for plane in frame.planes)
            if self._retained_bytes + size <= RETAINED_FRAME_BYTES:
                self._retained[pts] = frame
                self._retained_bytes += size

    def _spare_positions(
        self,
        candidates: dict[int, Candidate],
        key_pts: list[int],
        decoded: set[int],
        limit: int,
    ) -> list[int]:
        """Next to each screened candidate that is black or repeats the one before,
        the nearest keyframe not decoded yet: a picture to use instead."""
        ordered = sorted(candidates.values(), key=lambda c: c.pts)
        spares: list[int] = []
        for before, candidate in zip([None, *ordered], ordered, strict=False):
            repeat = before is not None and is_duplicate(before.signature, candidate.signature)
            if not (candidate.signature.black or repeat):
                continue
            at = bisect.bisect_left(key_pts, candidate.pts)
            for position in (at + 1, at - 1, at + 2, at - 2):
                if 0 <= position < len(key_pts) and position not in decoded:
                    spares.append(position)
                    break
            if len(spares) >= limit:
                break
        return spares

    def _keyframe_plan(
        self, target_pts: list[int], tolerance: int, keys: list[int]
    ) -> list[int | None]:
        """For each target, the nearest keyframe in the container's index that is
        within ``tolerance`` and later than the previous pick (so frames differ);
        None where there is none, or when the container has no usable index."""
        if len(keys) < 2:
            return [None] * len(target_pts)
        plan: list[int | None] = []
        floor: int | None = None
        for target in target_pts:
            at = bisect.bisect_left(keys, target)
            candidates = [
                key
                for key in keys[max(at - 1, 0) : at + 1]
                if (floor is None or key > floor) and abs(key - target) <= tolerance
            ]
            pick = min(candidates, key=lambda key: abs(key - target)) if candidates else None
            plan.append(pick)
            if pick is not None:
                floor = pick
        return plan

    def _write_jpeg(self, image: Image.Image, path: Path) -> None:
        try:
            image.save(path, "JPEG", quality=self.options.jpeg_quality)
        except OSError as exc:
            raise MediaProcessingError(
                PROCESSING_FAILED,
                f"A frame could not be written to {path.parent}: {exc.strerror or exc}.",
            ) from exc

    def _extract(
        self, frame, path: Path, index: int, scene: int | None
    ) -> tuple[ExtractedFrame, Image.Image]:
        """The frame as a full picture (to save at ``path``) and a sheet-cell thumbnail,
        both the way a player shows it: square pixels, rotated per the display
        matrix. Both are scaled by swscale straight from the decoded YUV, which is
        several times cheaper than converting at full size and resizing in Pillow."""
        width, height = frame.width, frame.height
        sar = self.stream.sample_aspect_ratio
        if sar and sar != 1:
            width = max(1, round(width * sar))
        rotation = round(getattr(frame, "rotation", 0) or 0) % 360
        quarter_turn = rotation in (90, 270)
        scale = min(1.0, self.options.max_image_side / max(width, height))
        full_size = (max(2, round(width * scale)), max(2, round(height * scale)))
        shown_w, shown_h = (height, width) if quarter_turn else (width, height)
        thumb_w, thumb_h = fit_size(shown_w, shown_h, *self.tile_box)
        thumb_size = (thumb_h, thumb_w) if quarter_turn else (thumb_w, thumb_h)
        with av_errors("video"):
            full = frame.to_image(width=full_size[0], height=full_size[1], interpolation="BILINEAR")
            thumbnail = frame.to_image(
                width=thumb_size[0], height=thumb_size[1], interpolation="BILINEAR"
            )
        if rotation:
            full = full.rotate(rotation, expand=True)
            thumbnail = thumbnail.rotate(rotation, expand=True)
        extracted = ExtractedFrame(
            path=path,
            time_s=float(frame.pts * self.time_base) if frame.pts is not None else 0.0,
            keyframe=bool(frame.key_frame),
            width=full.width,
            height=full.height,
            thumbnail=thumbnail,
            index=index,
            scene=scene,
        )
        return extracted, full

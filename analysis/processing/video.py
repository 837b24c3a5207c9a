"""Video: probe the streams, pull N evenly spaced frames by seeking to keyframes,
and lay them out on a contact sheet.

Speed comes from never decoding the whole file: for each target time we seek to a
keyframe (chosen from the container's index when it has one, so the frames are
distinct and as close to evenly spaced as the keyframes allow) and decode that
one picture with the decoder told to skip everything but keyframes. Only when two
targets would land on the same keyframe (short clips, sparse keyframes) do we
decode forward from the keyframe to the target, bounded by
``max_forward_decode_frames``.
"""

from __future__ import annotations

import bisect
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
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
from analysis.processing.facts import FrameFacts, VideoFacts, VideoProbe, field_values
from analysis.processing.options import ProcessingOptions

# Decode errors tolerated while looking for one frame before the file counts as corrupt.
MAX_DECODE_ERRORS = 32
# Below this length, timestamps on the sheet show tenths of a second.
SHORT_CLIP_SECONDS = 60


@dataclass(frozen=True)
class ExtractedFrame:
    path: Path  # the saved JPEG: display orientation, longest side capped
    time_s: float
    keyframe: bool
    width: int
    height: int
    thumbnail: Image.Image  # already the size of a contact-sheet cell

    def as_facts(self) -> FrameFacts:
        return FrameFacts(
            path=str(self.path),
            time_s=round(self.time_s, 3),
            keyframe=self.keyframe,
            width=self.width,
            height=self.height,
        )


@dataclass(frozen=True)
class VideoResult:
    facts: VideoFacts
    frames: list[ExtractedFrame]
    contact_sheet: ContactSheet


def frame_filename(index: int) -> str:
    """``frame_001.jpg`` for the first frame: the names the storage layout expects."""
    return f"frame_{index:03d}.jpg"


def process_video(path: Path, work_dir: Path, options: ProcessingOptions) -> VideoResult:
    """Probe ``path``, save frames as ``work_dir/frame_NNN.jpg`` and the sheet as
    ``work_dir/contact_sheet.jpg``; facts include the time each stage took."""
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
        grabber = _FrameGrabber(container, stream, options)
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


class _FrameGrabber:
    """Pulls frames at evenly spaced times from one open video stream."""

    def __init__(self, container, stream, options: ProcessingOptions) -> None:
        self.container = container
        self.stream = stream
        self.options = options
        self.time_base: Fraction = stream.time_base or Fraction(1, av.time_base)
        self.forward_decoded = 0
        self.decode_errors = 0
        self.missing = 0
        self.repeats_skipped = 0
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
        # Slice threads help a single 1080p+ keyframe; frame threads would only
        # add latency since we decode one picture per seek.
        stream.thread_type = "SLICE"

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
        targets = [start_s + duration_s * (i + 0.5) / count for i in range(count)]
        target_pts = [int(t / self.time_base) for t in targets]
        # A keyframe further than half the spacing from its target would make the
        # sheet uneven: then decode forward from the keyframe before the target.
        tolerance = int(duration_s / count / 2 / self.time_base)
        plan = self._keyframe_plan(target_pts, tolerance)

        out_dir.mkdir(parents=True, exist_ok=True)
        frames: list[ExtractedFrame] = []
        last_pts: int | None = None
        # JPEG encoding releases the GIL: saving frame N overlaps decoding frame N+1.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="frame-save") as saver:
            saves = []
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
                extracted, full = self._extract(frame, out_dir / frame_filename(len(frames) + 1))
                saves.append(saver.submit(self._write_jpeg, full, extracted.path))
                frames.append(extracted)
            for save in saves:
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
                f"{self.missing} of {count} positions have no picture. Send the complete file again.",
            )
        return frames

    def _scan_duration(self, start_s: float) -> float:
        """Walk the packets (no decoding) to find the end when no header says it."""
        end = None
        with av_errors("video"):
            for packet in self.container.demux(self.stream):
                if packet.pts is not None:
                    stop = packet.pts + (packet.duration or 0)
                    end = stop if end is None else max(end, stop)
            self.container.seek(0)
        if end is None:
            raise MediaProcessingError(MEDIA_CORRUPT, "The video has no readable pictures.")
        return max(float(end * self.time_base) - start_s, 0.0)

    def _keyframe_plan(self, target_pts: list[int], tolerance: int) -> list[int | None]:
        """For each target, the nearest keyframe in the container's index that is
        within ``tolerance`` and later than the previous pick (so frames differ);
        None where there is none, or when the container has no usable index."""
        try:
            keys = sorted(
                {entry.timestamp for entry in self.stream.index_entries if entry.is_keyframe}
            )
        except (AttributeError, av.FFmpegError):
            keys = []
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

    def _decode_packet(self, packet) -> list:
        """The frames one packet gives; a bad packet is counted and skipped."""
        try:
            return packet.decode()
        except av.error.InvalidDataError:
            self.decode_errors += 1
            if self.decode_errors > MAX_DECODE_ERRORS:
                raise MediaProcessingError(
                    MEDIA_CORRUPT, "The video's pictures are damaged and cannot be decoded."
                ) from None
            return []

    def _decode_frames(self):
        """Frames decoded from the current position."""
        for packet in self.container.demux(self.stream):
            yield from self._decode_packet(packet)

    def _seek(self, pts: int) -> bool:
        try:
            self.container.seek(pts, stream=self.stream, backward=True, any_frame=False)
        except av.error.PermissionError:
            return False  # not seekable: read on from where we are
        return True

    def _keyframe_at(self, pts: int):
        """The first keyframe at or after the keyframe before ``pts``.

        A decoder that reorders frames (H.264/HEVC with B-frames) holds a picture
        back until later ones arrive; with everything but keyframes skipped that
        would mean reading on to the next keyframe, seconds of packets away. So
        once a keyframe packet has gone in, the decoder is drained instead."""
        ctx = self.stream.codec_context
        ctx.skip_frame = "NONKEY"
        try:
            with av_errors("video"):
                self._seek(pts)
                for packet in self.container.demux(self.stream):
                    frames = self._decode_packet(packet)
                    if frames:
                        return frames[0]
                    if packet.is_keyframe and packet.size:
                        drained = ctx.decode(None)
                        ctx.flush_buffers()
                        if drained:
                            return drained[0]
                return None
        finally:
            ctx.skip_frame = "DEFAULT"

    def _decode_forward_to(self, target: int, after_pts: int | None):
        """Decode every frame from the keyframe before ``target`` until one at or
        past it (and past ``after_pts``), within the forward-decode bound."""
        limit = self.options.max_forward_decode_frames
        last = None
        with av_errors("video"):
            self._seek(target)
            for count, frame in enumerate(self._decode_frames(), start=1):
                if frame.pts is None or (after_pts is not None and frame.pts <= after_pts):
                    if count > limit:
                        break
                    continue
                last = frame
                self.forward_decoded += 1
                if frame.pts >= target or count > limit:
                    break
        return last

    def _write_jpeg(self, image: Image.Image, path: Path) -> None:
        try:
            image.save(path, "JPEG", quality=self.options.jpeg_quality)
        except OSError as exc:
            raise MediaProcessingError(
                PROCESSING_FAILED,
                f"A frame could not be written to {path.parent}: {exc.strerror or exc}.",
            ) from exc

    def _extract(self, frame, path: Path) -> tuple[ExtractedFrame, Image.Image]:
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
        )
        return extracted, full

"""Reading pictures out of one open video stream without decoding the whole file:
the keyframes the container's index lists, one keyframe decoded after a seek
with the decoder skipping every other picture, and a bounded decode forward from
a keyframe when a picture between keyframes is needed.

``KeyframeReader`` keeps the counts the facts report (decode errors, pictures
decoded past a keyframe); the frame grabber in ``video.py`` builds on it.
"""

from __future__ import annotations

from fractions import Fraction

import av

from analysis.processing.avcommon import PacketDecoder, av_errors
from analysis.processing.errors import MEDIA_CORRUPT, MediaProcessingError
from analysis.processing.options import ProcessingOptions
from analysis.processing.scenes import IndexedKeyframe

# Decode errors tolerated while looking for one frame before the file counts as corrupt.


class KeyframeReader:
    """Seeks and decodes on one stream of an open container."""

    def __init__(self, container, stream, options: ProcessingOptions) -> None:
        self.container = container
        self.stream = stream
        self.options = options
        self.time_base: Fraction = stream.time_base or Fraction(1, av.time_base)
        self.forward_decoded = 0
        self._decoder = PacketDecoder("The video's pictures are damaged and cannot be decoded.")

    def _indexed_keyframes(self) -> list[IndexedKeyframe]:
        """The keyframes the container's index lists (timestamp and packet size), in
        order; empty when it has no usable index (streamed files, MPEG-TS)."""
        try:
            entries = {
                entry.timestamp: entry.size
                for entry in self.stream.index_entries
                if entry.is_keyframe
            }
        except (AttributeError, av.FFmpegError):
            return []
        if len(entries) < 2:
            return []
        return [IndexedKeyframe(pts, size) for pts, size in sorted(entries.items())]

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

    @property
    def decode_errors(self) -> int:
        return self._decoder.errors

    def _decode_packet(self, packet) -> list:
        """The frames one packet gives; a bad packet is counted and skipped."""
        return self._decoder.decode(packet)

    def _decode_frames(self):
        """Frames decoded from the current position."""
        for packet in self.container.demux(self.stream):
            yield from self._decode_packet(packet)

    def _seek(self, pts: int, *, backward: bool = True) -> bool:
        try:
            self.container.seek(pts, stream=self.stream, backward=backward, any_frame=False)
        except av.error.PermissionError:
            return False  # not seekable: read on from where we are
        return True

    def _keyframe_at(self, pts: int, *, indexed: bool = False):
        """The first keyframe at or after the keyframe before ``pts`` (with
        ``indexed``, ``pts`` is an index entry's timestamp: that keyframe).

        A decoder that reorders frames (H.264/HEVC with B-frames) holds a picture
        back until later ones arrive; with everything but keyframes skipped that
        would mean reading on to the next keyframe, seconds of packets away. So
        once a keyframe packet has gone in, the decoder is drained instead."""
        ctx = self.stream.codec_context
        ctx.skip_frame = "NONKEY"
        try:
            with av_errors("video"):
                # An index entry's timestamp can be its decoding time (MP4), a
                # little before the picture's own: seeking backward from it would
                # land on the keyframe before. Seeking forward lands on the entry.
                self._seek(pts, backward=not indexed)
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

"""Knobs for processing, with the defaults the service runs with. The caller (the
pipeline) builds one from settings; processing itself never reads settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from analysis.processing.contact_sheet import Grid, Resolution

# Told (frames extracted, frames planned) as a video's frames are taken: the
# caller's progress (analysis/progress.py). Not an option: a hook.
OnFrame = Callable[[int, int], None]


@dataclass(frozen=True)
class ProcessingOptions:
    # Video: how many frames, and the sheet they are laid out on (COLUMNSxROWS).
    frames_count: int = 6
    grid: str = "2x3"
    resolution: str = "1920x1080"
    # Longest side of every picture handed on (frames, normalised image, PDF pages).
    max_image_side: int = 2048
    jpeg_quality: int = 85
    # Images with more pixels than this are refused as decompression bombs.
    max_image_pixels: int = 100_000_000
    # Documents: extracted text is cut here; at most this many text-less PDF pages
    # are rendered to pictures.
    max_text_chars: int = 200_000
    max_rendered_pages: int = 8
    # Audio: waveform picture size, and what counts as silence.
    waveform_size: str = "1600x400"
    silence_threshold_dbfs: float = -50.0
    silence_window_ms: int = 50
    # A truncated file fails with media_truncated unless this is set, in which
    # case what could be read is processed and the facts say it was truncated.
    allow_truncated: bool = False
    # Bounds on work: frames decoded past a keyframe to reach a target, and the
    # uncompressed size of a DOCX body (zip bombs).
    max_forward_decode_frames: int = 300
    max_docx_xml_bytes: int = 64 * 1024 * 1024
    # Scene detection decodes every keyframe the index lists while their pixels
    # add up to no more than this (about eleven 1080p keyframes, three hundred at
    # 320x240); past it, only the keyframes the index hints at and those nearest
    # even spacing (see analysis.processing.scenes).
    scene_scan_pixels: int = 24_000_000
    # OCR (analysis/processing/ocr.py): which pictures are read, at most how many,
    # and the time each may take. The normalised image and text-less PDF pages are
    # read by default, video frames only when asked.
    ocr_images: bool = True
    ocr_pages: bool = True
    ocr_frames: bool = False
    ocr_max_images: int = 8
    ocr_seconds_per_image: float = 10.0
    grid_parsed: Grid = field(init=False, repr=False, compare=False)
    resolution_parsed: Resolution = field(init=False, repr=False, compare=False)
    waveform_parsed: Resolution = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        grid = Grid.parse(self.grid)
        object.__setattr__(self, "grid_parsed", grid)
        object.__setattr__(self, "resolution_parsed", Resolution.parse(self.resolution))
        object.__setattr__(self, "waveform_parsed", Resolution.parse(self.waveform_size))
        if not 1 <= self.frames_count <= grid.cells:
            raise ValueError(
                f"frames_count must be between 1 and the grid's {grid.cells} cells, got {self.frames_count}"
            )
        _check_range("max_image_side", self.max_image_side, 64, 16384)
        _check_range("jpeg_quality", self.jpeg_quality, 1, 100)
        _check_range("max_image_pixels", self.max_image_pixels, 64 * 64, 2**31)
        _check_range("max_text_chars", self.max_text_chars, 100, 100_000_000)
        _check_range("max_rendered_pages", self.max_rendered_pages, 0, 1000)
        _check_range("silence_window_ms", self.silence_window_ms, 5, 10_000)
        _check_range("max_forward_decode_frames", self.max_forward_decode_frames, 0, 100_000)
        _check_range("scene_scan_pixels", self.scene_scan_pixels, 0, 2**34)
        _check_range("max_docx_xml_bytes", self.max_docx_xml_bytes, 1024, 2**34)
        _check_range("ocr_max_images", self.ocr_max_images, 0, 1000)
        if not 0.1 <= self.ocr_seconds_per_image <= 3600:
            raise ValueError(
                f"ocr_seconds_per_image must be within 0.1..3600, got {self.ocr_seconds_per_image}"
            )
        if not -120.0 <= self.silence_threshold_dbfs <= 0.0:
            raise ValueError(
                f"silence_threshold_dbfs must be within -120..0, got {self.silence_threshold_dbfs}"
            )


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer within {low}..{high}, got {value!r}")

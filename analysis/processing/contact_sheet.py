"""A contact sheet: frames laid out on one JPEG so a vision model sees a whole
video in a single image.

The grid is written COLUMNSxROWS, as vcsi and most tools write it ("2x3" is two
columns and three rows); tiles fill row by row, each frame scaled to fit its cell
with its aspect ratio kept, and labelled with its timestamp.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from analysis.processing.facts import ContactSheetFacts

_SIZE_RE = re.compile(r"^\s*(\d{1,5})\s*[xX]\s*(\d{1,5})\s*$")

BACKGROUND = (20, 20, 20)
LABEL_BACKGROUND = (0, 0, 0, 160)
LABEL_COLOUR = (255, 255, 255, 255)


def _parse_pair(value: str, what: str, maximum: int) -> tuple[int, int]:
    match = _SIZE_RE.match(value or "")
    if not match:
        raise ValueError(f"{what} must look like 2x3, got {value!r}")
    first, second = int(match.group(1)), int(match.group(2))
    if not (1 <= first <= maximum and 1 <= second <= maximum):
        raise ValueError(f"{what} values must be between 1 and {maximum}, got {value!r}")
    return first, second


@dataclass(frozen=True)
class Grid:
    columns: int
    rows: int

    @classmethod
    def parse(cls, value: str) -> Grid:
        return cls(*_parse_pair(value, "grid", 16))

    @property
    def cells(self) -> int:
        return self.columns * self.rows

    def __str__(self) -> str:
        return f"{self.columns}x{self.rows}"


@dataclass(frozen=True)
class Resolution:
    width: int
    height: int

    @classmethod
    def parse(cls, value: str) -> Resolution:
        width, height = _parse_pair(value, "resolution", 8192)
        if width < 64 or height < 64:
            raise ValueError(f"resolution must be at least 64x64, got {value!r}")
        return cls(width, height)

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass(frozen=True)
class SheetTile:
    image: Image.Image
    label: str | None = None


@dataclass(frozen=True)
class ContactSheet:
    path: Path
    frames_count: int
    grid_layout: str
    resolution: str
    size_bytes: int

    def as_facts(self) -> ContactSheetFacts:
        return ContactSheetFacts(
            path=str(self.path),
            frames_count=self.frames_count,
            grid_layout=self.grid_layout,
            resolution=self.resolution,
            size_bytes=self.size_bytes,
        )


def format_timestamp(seconds: float, *, tenths: bool = False) -> str:
    """``H:MM:SS`` or ``M:SS`` the way a player shows a position; with ``tenths``
    (for short clips, where whole seconds repeat) ``M:SS.s``."""
    seconds = round(max(0.0, seconds), 1) if tenths else float(int(max(0.0, seconds)))
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    if tenths:
        return f"{minutes}:{seconds - minutes * 60:04.1f}"
    return f"{minutes}:{secs:02d}"


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, ImportError):  # Pillow built without FreeType
        return ImageFont.load_default()


def _gap(resolution: Resolution) -> int:
    return max(2, min(resolution.width, resolution.height) // 200)


def cell_size(grid: Grid, resolution: Resolution) -> tuple[int, int]:
    """The box each frame is fitted into on a sheet of this layout."""
    gap = _gap(resolution)
    cell_w = (resolution.width - gap * (grid.columns + 1)) // grid.columns
    cell_h = (resolution.height - gap * (grid.rows + 1)) // grid.rows
    if cell_w < 8 or cell_h < 8:
        raise ValueError(f"a {grid} grid does not fit on {resolution}")
    return cell_w, cell_h


def fit_size(width: int, height: int, box_w: int, box_h: int) -> tuple[int, int]:
    """The largest size with the aspect ratio of ``width`` x ``height`` inside the box.
    Callers that can scale cheaply (swscale on a video frame) make tiles this size,
    and the sheet then pastes them as they are."""
    scale = min(box_w / width, box_h / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _fit(image: Image.Image, box_w: int, box_h: int) -> Image.Image:
    size = fit_size(image.width, image.height, box_w, box_h)
    if size == image.size:
        return image
    # reducing_gap lets Pillow shrink by an integer factor first: much faster on
    # 1080p and larger frames, with no visible loss at thumbnail size.
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _draw_label(sheet: Image.Image, text: str, x: int, y: int, font_size: int) -> None:
    overlay = ImageDraw.Draw(sheet, "RGBA")
    font = _font(font_size)
    left, top, right, bottom = overlay.textbbox((0, 0), text, font=font)
    pad = max(2, font_size // 4)
    box = (x, y - (bottom - top) - 2 * pad, x + (right - left) + 2 * pad, y)
    overlay.rectangle(box, fill=LABEL_BACKGROUND)
    overlay.text((box[0] + pad - left, box[1] + pad - top), text, font=font, fill=LABEL_COLOUR)


def compose_contact_sheet(
    tiles: Sequence[SheetTile],
    out_path: Path,
    *,
    grid: Grid,
    resolution: Resolution,
    jpeg_quality: int = 85,
) -> ContactSheet:
    """Lay ``tiles`` out on a ``resolution`` canvas in ``grid`` and save a JPEG."""
    if not tiles:
        raise ValueError("a contact sheet needs at least one frame")
    if len(tiles) > grid.cells:
        raise ValueError(f"{len(tiles)} frames do not fit a {grid} grid")
    sheet = Image.new("RGB", (resolution.width, resolution.height), BACKGROUND)
    gap = _gap(resolution)
    cell_w, cell_h = cell_size(grid, resolution)
    font_size = max(10, cell_h // 14)
    for index, tile in enumerate(tiles):
        column, row = index % grid.columns, index // grid.columns
        picture = _fit(
            tile.image if tile.image.mode == "RGB" else tile.image.convert("RGB"), cell_w, cell_h
        )
        cell_x = gap + column * (cell_w + gap)
        cell_y = gap + row * (cell_h + gap)
        x = cell_x + (cell_w - picture.width) // 2
        y = cell_y + (cell_h - picture.height) // 2
        sheet.paste(picture, (x, y))
        if tile.label:
            _draw_label(sheet, tile.label, x, y + picture.height, font_size)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out_path, "JPEG", quality=jpeg_quality, optimize=False)
    return ContactSheet(
        path=out_path,
        frames_count=len(tiles),
        grid_layout=str(grid),
        resolution=str(resolution),
        size_bytes=out_path.stat().st_size,
    )

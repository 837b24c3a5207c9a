"""The sheet's layout, its parsing of sizes, and the options that feed it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from analysis.processing.contact_sheet import (
    Grid,
    Resolution,
    SheetTile,
    compose_contact_sheet,
    format_timestamp,
)
from analysis.processing.options import ProcessingOptions

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255)]


def test_tiles_fill_columns_then_rows(tmp_path):
    tiles = [SheetTile(Image.new("RGB", (160, 90), colour)) for colour in COLOURS]
    sheet = compose_contact_sheet(
        tiles, tmp_path / "s.jpg", grid=Grid.parse("2x3"), resolution=Resolution.parse("1920x1080")
    )
    assert (sheet.frames_count, sheet.grid_layout, sheet.resolution) == (6, "2x3", "1920x1080")
    with Image.open(sheet.path) as image:
        assert image.size == (1920, 1080)
        # Two columns, three rows: the middle of each cell shows its tile's colour.
        for index, colour in enumerate(COLOURS):
            column, row = index % 2, index // 2
            pixel = image.getpixel((int((column + 0.5) * 960), int((row + 0.5) * 360)))
            assert all(abs(a - b) < 40 for a, b in zip(pixel, colour, strict=True)), (index, pixel)


def _corner_brightness(path) -> float:
    """Mean brightness of the bottom-left corner of the first tile."""
    with Image.open(path) as image:
        return float(np.asarray(image.convert("L").crop((2, 80, 30, 98))).mean())


def test_fewer_tiles_than_cells_and_labels(tmp_path):
    white = Image.new("RGB", (100, 100), "white")
    layout = {"grid": Grid(3, 3), "resolution": Resolution(300, 300)}
    labelled = compose_contact_sheet([SheetTile(white, label="0:42")], tmp_path / "a.jpg", **layout)
    plain = compose_contact_sheet([SheetTile(white)], tmp_path / "b.jpg", **layout)
    assert labelled.frames_count == 1
    # The label sits on a dark box over the bottom-left of the tile.
    assert _corner_brightness(plain.path) > 240
    assert _corner_brightness(labelled.path) < 200


def test_too_many_tiles_are_refused(tmp_path):
    tiles = [SheetTile(Image.new("RGB", (10, 10)))] * 5
    with pytest.raises(ValueError):
        compose_contact_sheet(
            tiles, tmp_path / "s.jpg", grid=Grid(2, 2), resolution=Resolution(640, 480)
        )


@pytest.mark.parametrize("value", ["", "2", "0x3", "2x", "axb", "20x20", "2x3x4"])
def test_bad_grids_are_refused(value):
    with pytest.raises(ValueError):
        Grid.parse(value)


@pytest.mark.parametrize("value", ["1920", "10x10", "99999x1080", "1920*1080"])
def test_bad_resolutions_are_refused(value):
    with pytest.raises(ValueError):
        Resolution.parse(value)


def test_timestamps():
    assert format_timestamp(0) == "0:00"
    assert format_timestamp(59.7) == "0:59"
    assert format_timestamp(3725) == "1:02:05"
    assert format_timestamp(1.68, tenths=True) == "0:01.7"
    assert format_timestamp(59.99, tenths=True) == "1:00.0"


def test_options_defaults_and_validation():
    options = ProcessingOptions()
    assert (options.frames_count, options.grid, options.resolution) == (6, "2x3", "1920x1080")
    assert options.grid_parsed == Grid(2, 3) and options.resolution_parsed == Resolution(1920, 1080)
    with pytest.raises(ValueError):
        ProcessingOptions(frames_count=7)  # more than the 2x3 grid holds
    with pytest.raises(ValueError):
        ProcessingOptions(max_text_chars=0)
    with pytest.raises(ValueError):
        ProcessingOptions(jpeg_quality=True)
    with pytest.raises(ValueError):
        ProcessingOptions(silence_threshold_dbfs=3.0)
    assert ProcessingOptions(frames_count=12, grid="4x3").grid_parsed.cells == 12

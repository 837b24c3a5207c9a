"""Images: facts, EXIF orientation, the normalised copy, bombs and damage."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from analysis.processing.errors import MediaProcessingError
from analysis.processing.image import process_image
from analysis.processing.options import ProcessingOptions
from tests.processing import media_factory as make


def test_facts_include_size_format_and_exif(jpeg_rotated, tmp_path):
    facts = process_image(jpeg_rotated, tmp_path, ProcessingOptions()).facts
    assert (facts.format, facts.width, facts.height) == ("JPEG", 400, 200)
    assert facts.orientation == 6
    assert (facts.display_width, facts.display_height) == (200, 400)
    assert facts.exif["Make"] == "TestCam" and facts.exif["Model"] == "Model 1"
    assert facts.exif["gps_present"] is False
    json.dumps(facts.as_dict())


def test_normalised_copy_is_upright_rgb_jpeg(jpeg_rotated, tmp_path):
    result = process_image(jpeg_rotated, tmp_path, ProcessingOptions())
    with Image.open(result.normalized) as image:
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (200, 400))
        # Stored red-left/blue-right; Orientation 6 turns it clockwise: red on top.
        top, bottom = image.getpixel((100, 50)), image.getpixel((100, 350))
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60
    assert "Orientation" not in Image.open(result.normalized).getexif()


def test_longest_side_is_capped(tmp_path):
    big = make.make_image(tmp_path / "big.png", size=(3000, 1000), fmt="PNG")
    result = process_image(big, tmp_path / "out", ProcessingOptions(max_image_side=1000))
    assert (result.facts.normalized.width, result.facts.normalized.height) == (
        1000,
        333,
    )


def test_transparency_is_flattened_on_white(tmp_path):
    path = tmp_path / "clear.png"
    Image.new("RGBA", (50, 50), (255, 0, 0, 0)).save(path)
    result = process_image(path, tmp_path / "out", ProcessingOptions())
    assert result.facts.has_alpha is True
    with Image.open(result.normalized) as image:
        assert all(channel > 245 for channel in image.getpixel((25, 25)))


def test_animated_gif_is_described(tmp_path):
    frames = [Image.new("RGB", (40, 40), colour) for colour in ("red", "green", "blue")]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    facts = process_image(path, tmp_path / "out", ProcessingOptions()).facts
    assert facts.animated is True and facts.frame_count == 3


def test_decompression_bombs_are_refused_before_decoding(tmp_path):
    # 20000x20000 one-bit pixels compress to a tiny PNG: 400 million pixels.
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(bomb, optimize=True)
    assert bomb.stat().st_size < 200_000
    with pytest.raises(MediaProcessingError) as caught:
        process_image(bomb, tmp_path / "out", ProcessingOptions())
    assert caught.value.code == "image_too_large"


def test_pixel_limit_is_configurable(tmp_path):
    path = make.make_image(tmp_path / "i.png", size=(400, 300), fmt="PNG")
    with pytest.raises(MediaProcessingError) as caught:
        process_image(path, tmp_path / "out", ProcessingOptions(max_image_pixels=100_000))
    assert caught.value.code == "image_too_large"
    assert "400x300" in caught.value.message


def test_truncated_jpeg(tmp_path):
    full = make.make_image(tmp_path / "full.jpg", size=(800, 600))
    cut = make.truncate(full, tmp_path / "cut.jpg", 0.5)
    with pytest.raises(MediaProcessingError) as caught:
        process_image(cut, tmp_path / "out", ProcessingOptions())
    assert caught.value.code == "media_truncated"


def test_damaged_png_is_corrupt_and_heic_is_unsupported(tmp_path):
    damaged = tmp_path / "damaged.png"
    damaged.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    with pytest.raises(MediaProcessingError) as caught:
        process_image(damaged, tmp_path / "out", ProcessingOptions())
    assert caught.value.code == "media_corrupt"

    heic = tmp_path / "photo.heic"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64)
    with pytest.raises(MediaProcessingError) as caught:
        process_image(heic, tmp_path / "out", ProcessingOptions())
    assert caught.value.code == "unsupported_media"
    assert "image/heic" in caught.value.message

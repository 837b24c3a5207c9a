"""Fixtures for pipeline tests: media files made on the spot
(tests/processing/media_factory.py). The storage root is tests/conftest.py's."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.processing.media_factory import make_image, make_video


@pytest.fixture(scope="session")
def small_video(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("media") / "clip.mp4", seconds=4.0)


@pytest.fixture(scope="session")
def small_image(tmp_path_factory) -> Path:
    return make_image(tmp_path_factory.mktemp("media") / "photo.jpg", size=(640, 360))


def chunks_of(path: Path, size: int = 64 * 1024):
    with path.open("rb") as handle:
        while chunk := handle.read(size):
            yield chunk

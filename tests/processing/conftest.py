"""Media files shared by the processing tests, made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.processing import media_factory as make


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def video_mp4(media_dir) -> Path:
    """6 s, 320x240, 25 fps, a keyframe every second, AAC stereo."""
    return make.make_video(media_dir / "clip.mp4", seconds=6.0)


@pytest.fixture(scope="session")
def video_mkv(media_dir) -> Path:
    return make.make_video(media_dir / "clip.mkv", seconds=4.0, container_format="matroska")


@pytest.fixture(scope="session")
def video_webm(media_dir) -> Path:
    return make.make_video(
        media_dir / "clip.webm", seconds=3.0, codec="libvpx", container_format="webm"
    )


@pytest.fixture(scope="session")
def video_silent(media_dir) -> Path:
    return make.make_video(media_dir / "silent.mp4", seconds=2.0, with_audio=False)


@pytest.fixture(scope="session")
def wav_tone(media_dir) -> Path:
    """2 s of a half-scale 440 Hz tone, then 2 s of digital silence, stereo."""
    return make.make_audio(media_dir / "tone.wav", seconds=2.0, silent_seconds=2.0, channels=2)


@pytest.fixture(scope="session")
def mp3_tone(media_dir) -> Path:
    return make.make_audio(media_dir / "tone.mp3", fmt="mp3", seconds=3.0)


@pytest.fixture(scope="session")
def flac_tone(media_dir) -> Path:
    return make.make_audio(media_dir / "tone.flac", fmt="flac", seconds=3.0)


@pytest.fixture(scope="session")
def jpeg_rotated(media_dir) -> Path:
    """400x200 stored, EXIF Orientation 6 (shown rotated 90 degrees clockwise)."""
    return make.make_image(media_dir / "photo.jpg", size=(400, 200), orientation=6)


@pytest.fixture(scope="session")
def text_pdf(media_dir) -> Path:
    return make.make_text_pdf(
        media_dir / "text.pdf", ["Hello from page one", "Second page says goodbye"]
    )


@pytest.fixture(scope="session")
def mixed_pdf(media_dir) -> Path:
    """Page 1 has a text layer, page 2 is a drawing with no text."""
    return make.make_text_pdf(media_dir / "mixed.pdf", ["A page with a real text layer", None])


@pytest.fixture(scope="session")
def scanned_pdf(media_dir) -> Path:
    return make.make_image_pdf(media_dir / "scan.pdf", pages=2)


@pytest.fixture(scope="session")
def docx_file(media_dir) -> Path:
    return make.make_docx(
        media_dir / "letter.docx", ["Dear reader,", "This is the second paragraph."]
    )

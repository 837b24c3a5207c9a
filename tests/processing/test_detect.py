"""Type detection reads the content: names and claimed types never matter."""

from __future__ import annotations

import shutil

import pytest

from analysis.processing.detect import DOCX_MIME, detect_media
from analysis.processing.errors import MediaProcessingError
from tests.processing import media_factory as make


@pytest.mark.parametrize(
    ("name", "build", "expected"),
    [
        ("v.mp4", lambda p: make.make_video(p, seconds=1), ("video", "video/mp4", ".mp4")),
        (
            "v.mkv",
            lambda p: make.make_video(p, seconds=1, container_format="matroska"),
            ("video", "video/x-matroska", ".mkv"),
        ),
        (
            "v.webm",
            lambda p: make.make_video(p, seconds=1, codec="libvpx", container_format="webm"),
            ("video", "video/webm", ".webm"),
        ),
        ("a.wav", lambda p: make.make_audio(p), ("audio", "audio/wav", ".wav")),
        ("a.mp3", lambda p: make.make_audio(p, fmt="mp3"), ("audio", "audio/mpeg", ".mp3")),
        ("a.flac", lambda p: make.make_audio(p, fmt="flac"), ("audio", "audio/flac", ".flac")),
        ("a.m4a", lambda p: make.make_audio(p, fmt="m4a"), ("audio", "audio/mp4", ".m4a")),
        ("a.opus", lambda p: make.make_audio(p, fmt="ogg"), ("audio", "audio/ogg", ".opus")),
        ("i.jpg", lambda p: make.make_image(p), ("image", "image/jpeg", ".jpg")),
        ("i.png", lambda p: make.make_image(p, fmt="PNG"), ("image", "image/png", ".png")),
        ("i.gif", lambda p: make.make_image(p, fmt="GIF"), ("image", "image/gif", ".gif")),
        ("i.webp", lambda p: make.make_image(p, fmt="WEBP"), ("image", "image/webp", ".webp")),
        ("i.tif", lambda p: make.make_image(p, fmt="TIFF"), ("image", "image/tiff", ".tif")),
        ("i.bmp", lambda p: make.make_image(p, fmt="BMP"), ("image", "image/bmp", ".bmp")),
        ("d.pdf", lambda p: make.make_text_pdf(p, ["hi"]), ("document", "application/pdf", ".pdf")),
        ("d.docx", lambda p: make.make_docx(p, ["hi"]), ("document", DOCX_MIME, ".docx")),
    ],
)
def test_binary_formats_are_recognised(tmp_path, name, build, expected):
    path = build(tmp_path / name)
    detected = detect_media(path)
    assert (detected.media_type, detected.mime_type, detected.extension) == expected


@pytest.mark.parametrize(
    ("content", "mime", "extension"),
    [
        (b"<!DOCTYPE html><html><body><p>Hi</p></body></html>", "text/html", ".html"),
        (b"  <html lang='en'><head><title>x</title></head></html>", "text/html", ".html"),
        (b"<div>one</div>\n<p>two</p>\n", "text/html", ".html"),
        (b"# Heading\n\nSome text with a [link](http://example.org).\n", "text/markdown", ".md"),
        (b"Plan:\n- first\n- second\n- third\n", "text/markdown", ".md"),
        (b"Just a note.\nNothing special here.\n", "text/plain", ".txt"),
        ("Grüße aus Köln".encode("cp1252"), "text/plain", ".txt"),
        ("\ufeffUTF-16 text with BOM".encode("utf-16"), "text/plain", ".txt"),
        (b"<?xml version='1.0'?><root><a>1</a></root>", "application/xml", ".xml"),
    ],
)
def test_text_formats_are_told_apart(tmp_path, content, mime, extension):
    path = tmp_path / "upload.bin"
    path.write_bytes(content)
    detected = detect_media(path)
    assert (detected.media_type, detected.mime_type, detected.extension) == (
        "document",
        mime,
        extension,
    )


def test_the_name_is_ignored(tmp_path):
    pdf = make.make_text_pdf(tmp_path / "source.pdf", ["hi"])
    disguised = tmp_path / "holiday.mp4"
    shutil.copy(pdf, disguised)
    assert detect_media(disguised).mime_type == "application/pdf"


def test_an_mp4_with_only_sound_is_audio(tmp_path):
    # An "isom" MP4 with no picture: the container is probed, not just the brand.
    path = tmp_path / "voice.mp4"
    make.make_audio(path, fmt="m4a")
    data = bytearray(path.read_bytes())
    data[8:12] = b"isom"
    path.write_bytes(bytes(data))
    assert detect_media(path).media_type == "audio"


def test_mp3_without_id3_tag_is_found_by_its_frame_header(tmp_path):
    path = make.make_audio(tmp_path / "a.mp3", fmt="mp3")
    data = path.read_bytes()
    size = (
        ((data[6] & 0x7F) << 21)
        | ((data[7] & 0x7F) << 14)
        | ((data[8] & 0x7F) << 7)
        | (data[9] & 0x7F)
    )
    bare = tmp_path / "bare.dat"
    bare.write_bytes(data[10 + size :])
    assert bare.read_bytes()[:1] == b"\xff"
    detected = detect_media(bare)
    assert (detected.media_type, detected.mime_type) == ("audio", "audio/mpeg")


def test_other_zip_archives_and_svg_are_unknown(tmp_path):
    import zipfile

    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("notes.txt", "hi")
    svg = tmp_path / "logo"
    svg.write_text('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>')
    assert detect_media(archive).media_type == "unknown"
    assert detect_media(archive).mime_type == "application/zip"
    assert (detect_media(svg).media_type, detect_media(svg).mime_type) == (
        "unknown",
        "image/svg+xml",
    )


def test_binary_junk_is_unknown(tmp_path):
    path = tmp_path / "junk"
    path.write_bytes(bytes(range(256)) * 8)
    detected = detect_media(path)
    assert (detected.media_type, detected.mime_type, detected.extension) == (
        "unknown",
        "application/octet-stream",
        ".bin",
    )


def test_encrypted_office_file_is_a_document(tmp_path):
    # The OLE compound-file signature, with the stream name Office uses for encrypted OOXML.
    path = tmp_path / "secret.docx"
    path.write_bytes(
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + "EncryptedPackage".encode("utf-16-le")
    )
    detected = detect_media(path)
    assert (detected.media_type, detected.mime_type) == (
        "document",
        "application/x-encrypted-office",
    )


def test_empty_and_missing_files_have_their_own_codes(tmp_path):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(MediaProcessingError) as caught:
        detect_media(empty)
    assert caught.value.code == "media_empty"
    with pytest.raises(MediaProcessingError) as caught:
        detect_media(tmp_path / "nope")
    assert caught.value.code == "media_not_found"

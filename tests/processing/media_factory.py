"""Makes the media the processing tests run on: real files written by real encoders
(PyAV, Pillow) or by hand (PDF, DOCX), small enough to build in milliseconds."""

from __future__ import annotations

import io
import math
import zipfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

VIDEO_CODEC = "libx264" if "libx264" in av.codecs_available else "mpeg4"


def _video_frame_array(index: int, fps: int, width: int, height: int) -> np.ndarray:
    """A picture that changes over time: the background brightness encodes the
    second, and a bar moves across, so frames from different times differ."""
    second = index / fps
    frame = np.zeros((height, width, 3), dtype=np.uint8)
    frame[:, :, 0] = int(second * 20) % 256
    frame[:, :, 1] = 80
    frame[:, :, 2] = 255 - int(second * 20) % 256
    bar = int((index * 7) % max(width - 20, 1))
    frame[:, bar : bar + 20, :] = 255
    return frame


def make_video(
    path: Path,
    *,
    seconds: float = 4.0,
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    gop: int = 25,
    with_audio: bool = True,
    codec: str = VIDEO_CODEC,
    container_format: str | None = None,
    rotation: int = 0,
    audio_silent_seconds: float = 0.0,
) -> Path:
    """A video with a keyframe every ``gop`` frames and an optional 440 Hz AAC track
    at half of full scale, digitally silent for its last ``audio_silent_seconds``."""
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = gop
        if codec == "libx264":
            stream.options = {
                "preset": "ultrafast",
                "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0",
            }
        if rotation:
            stream.set_display_rotation(rotation)
        audio = None
        if with_audio:
            audio_codec = "libopus" if container_format == "webm" else "aac"
            audio = container.add_stream(audio_codec, rate=48000)
            audio.layout = "stereo"
        frames = round(seconds * fps)
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(
                _video_frame_array(index, fps, width, height), format="rgb24"
            )
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
        if audio is not None:
            _encode_tone(
                container, audio, seconds, 48000, 2, tone_seconds=seconds - audio_silent_seconds
            )
    return path


# What each clip of a joined video shows: kinds of picture a viewer would call
# different scenes (colours and layout both change between them).
def _scene_picture(kind: str, index: int, width: int, height: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    if kind == "warm":  # an orange gradient with a bright disc drifting across
        frame = np.zeros((height, width, 3), dtype=np.uint8)
        frame[..., 0] = 160 + (x * 90 // width)
        frame[..., 1] = 60 + (y * 80 // height)
        frame[..., 2] = 20
        cx, cy = (index * 3) % width, height // 2
        frame[(x - cx) ** 2 + (y - cy) ** 2 < (height // 6) ** 2] = (255, 240, 200)
        return frame
    if kind == "checker":  # green and white squares sliding sideways
        squares = (((x + index * 2) // 20 + y // 20) % 2).astype(bool)
        frame = np.empty((height, width, 3), dtype=np.uint8)
        frame[squares] = (240, 250, 240)
        frame[~squares] = (20, 140, 40)
        return frame
    if kind == "noise":  # a blue textured surface, grain changing every frame
        grain = np.random.default_rng(index).integers(0, 60, size=(height, width))
        frame = np.zeros((height, width, 3), dtype=np.uint8)
        frame[..., 0] = 10 + grain // 3
        frame[..., 1] = 40 + grain // 2
        frame[..., 2] = 150 + grain
        return frame
    if kind == "still":  # the same purple picture with a stripe, every frame
        frame = np.full((height, width, 3), (120, 40, 140), dtype=np.uint8)
        frame[height // 3 : height // 2, :] = (230, 200, 60)
        return frame
    if kind == "black":
        return np.zeros((height, width, 3), dtype=np.uint8)
    raise ValueError(f"unknown picture kind {kind!r}")


def make_joined_video(
    path: Path,
    clips: list[tuple[str, float]],
    *,
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    gop: int = 25,
    scenecut: bool = False,
) -> Path:
    """One H.264 (else MPEG-4) stream made of clips played one after another, each
    ``(kind, seconds)`` (kinds in ``_scene_picture``). Keyframes come every ``gop``
    frames, wherever the cuts fall; with ``scenecut`` x264 also starts a new group
    of pictures at each cut, as encoders do by default."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(VIDEO_CODEC, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = gop
        if VIDEO_CODEC == "libx264":
            cut = "min-keyint=5:scenecut=40" if scenecut else f"min-keyint={gop}:scenecut=0"
            stream.options = {"preset": "ultrafast", "x264-params": f"keyint={gop}:{cut}"}
        index = 0
        for kind, seconds in clips:
            for _ in range(round(seconds * fps)):
                picture = _scene_picture(kind, index, width, height)
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                frame.pts = index
                frame.time_base = Fraction(1, fps)
                container.mux(stream.encode(frame))
                index += 1
        container.mux(stream.encode())
    return path


def _encode_tone(
    container,
    stream,
    seconds: float,
    rate: int,
    channels: int,
    amplitude: float = 0.5,
    tone_seconds: float | None = None,
) -> None:
    chunk = 1024
    total = int(seconds * rate)
    tone_end = total if tone_seconds is None else int(tone_seconds * rate)
    for start in range(0, total, chunk):
        n = min(chunk, total - start)
        index = np.arange(start, start + n)
        t = (index / rate).astype(np.float32)
        wave = (amplitude * np.sin(2 * math.pi * 440 * t)).astype(np.float32)
        wave[index >= tone_end] = 0.0
        planes = np.tile(wave, (channels, 1))
        frame = av.AudioFrame.from_ndarray(
            planes, format="fltp", layout="stereo" if channels == 2 else "mono"
        )
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode())


def _pack(planes: np.ndarray, sample_format: str) -> np.ndarray:
    """Samples shaped (channels, n) in -1..1, laid out as ``sample_format`` wants:
    planar formats one row per channel, packed ones interleaved in a single row."""
    if sample_format == "s16":
        return (planes.T.reshape(1, -1) * 32767).astype(np.int16)
    if sample_format == "flt":
        return planes.T.reshape(1, -1).astype(np.float32)
    return planes.astype(np.float32)


_AUDIO_FORMATS = {
    # extension: (container format, codec, sample format the encoder takes)
    "wav": ("wav", "pcm_s16le", "s16"),
    "mp3": ("mp3", "libmp3lame" if "libmp3lame" in av.codecs_available else "mp3", "fltp"),
    "flac": ("flac", "flac", "s16"),
    "m4a": ("ipod", "aac", "fltp"),
    "ogg": ("ogg", "libopus", "flt"),  # Opus encodes at 48 kHz only
}


def make_audio(
    path: Path,
    *,
    fmt: str = "wav",
    seconds: float = 2.0,
    rate: int = 44100,
    channels: int = 1,
    amplitude: float = 0.5,
    silent_seconds: float = 0.0,
) -> Path:
    """A 440 Hz tone of ``amplitude`` (0..1 of full scale), followed by
    ``silent_seconds`` of digital silence."""
    container_format, codec, sample_format = _AUDIO_FORMATS[fmt]
    if codec == "libopus":
        rate = 48000
    layout = "stereo" if channels == 2 else "mono"
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = layout
        stream.format = sample_format
        total_tone = int(seconds * rate)
        total = total_tone + int(silent_seconds * rate)
        chunk = 1152
        for start in range(0, total, chunk):
            n = min(chunk, total - start)
            index = np.arange(start, start + n)
            wave = amplitude * np.sin(2 * math.pi * 440 * index / rate)
            wave[index >= total_tone] = 0.0
            planes = np.tile(wave, (channels, 1))
            data = _pack(planes, sample_format)
            frame = av.AudioFrame.from_ndarray(data, format=sample_format, layout=layout)
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def make_image(
    path: Path,
    *,
    size: tuple[int, int] = (400, 200),
    fmt: str = "JPEG",
    orientation: int | None = None,
    mode: str = "RGB",
) -> Path:
    """A picture whose left half is red and right half blue (so a rotation shows),
    with an EXIF Orientation tag when asked."""
    image = Image.new(mode, size, (0, 0, 255) if mode == "RGB" else None)
    if mode == "RGB":
        image.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0110] = "Model 1"  # Model
    if orientation:
        exif[0x0112] = orientation
    extra = {"exif": exif.tobytes()} if fmt in ("JPEG", "PNG", "WEBP") else {}
    image.save(path, fmt, **extra)
    return path


def _pdf_object_stream(content: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"


def make_text_pdf(path: Path, pages: list[str | None]) -> Path:
    """A hand-written PDF: one page per entry, with that text in a text layer, or a
    page that only draws a filled rectangle (no text) for ``None``."""
    objects: list[bytes] = []
    page_ids = []
    font_id = 3
    objects.append(b"")  # 1: catalog, filled below
    objects.append(b"")  # 2: pages, filled below
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for text in pages:
        if text is None:
            content = b"0.2 0.4 0.8 rg 72 400 300 200 re f"
        else:
            escaped = (
                text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")
            )
            content = b"BT /F1 18 Tf 72 720 Td (" + escaped + b") Tj ET"
        objects.append(_pdf_object_stream(content))
        content_id = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (content_id, font_id)
        )
        page_ids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    kids = b" ".join(b"%d 0 R" % pid for pid in page_ids)
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids))
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    path.write_bytes(out.getvalue())
    return path


def make_image_pdf(path: Path, pages: int = 2) -> Path:
    """A scanned-looking PDF: pages that are pictures only (Pillow's PDF writer)."""
    images = [Image.new("RGB", (600, 800), (255, 255, 255)) for _ in range(pages)]
    for number, image in enumerate(images):
        image.paste((30 * number, 60, 120), (100, 100, 500, 300))
    images[0].save(path, "PDF", save_all=True, append_images=images[1:], resolution=72)
    return path


def make_encrypted_pdf(path: Path, text: str = "secret") -> Path:
    from pypdf import PdfReader, PdfWriter

    plain = make_text_pdf(path.with_suffix(".plain.pdf"), [text])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password="open-sesame", owner_password="owner", algorithm="AES-128")
    with open(path, "wb") as handle:
        writer.write(handle)
    return path


_DOCX_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
</Types>"""


def make_docx(path: Path, paragraphs: list[str], *, document_xml: str | None = None) -> Path:
    """A minimal DOCX: a zip with [Content_Types].xml and word/document.xml."""
    if document_xml is None:
        body = "".join(
            f'<w:p><w:r><w:t xml:space="preserve">{_xml_escape(text)}</w:t></w:r></w:p>'
            for text in paragraphs
        )
        document_xml = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f"<w:body>{body}</w:body></w:document>"
        )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _DOCX_CONTENT_TYPES)
        archive.writestr("word/document.xml", document_xml)
    return path


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def make_html(path: Path, *, title: str, paragraphs: list[str], lang: str = "en") -> Path:
    body = "".join(f"<p>{_xml_escape(text)}</p>" for text in paragraphs)
    path.write_text(
        f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'>"
        f"<title>{_xml_escape(title)}</title><style>p {{ margin: 0 }}</style></head>"
        f"<body>{body}<script>var hidden = 1;</script></body></html>",
        encoding="utf-8",
    )
    return path


def make_markdown(path: Path, *, heading: str, paragraphs: list[str]) -> Path:
    path.write_text("\n\n".join([f"# {heading}", *paragraphs]) + "\n", encoding="utf-8")
    return path


def make_text(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_one_of_each(directory: Path) -> dict[str, Path]:
    """A real file of every kind processing handles, by a short name."""
    directory.mkdir(parents=True, exist_ok=True)
    words = ["The quarterly results improved in every region.", "Costs fell; sales rose."]
    return {
        "video": make_video(directory / "clip.mp4", seconds=3.0),
        "audio": make_audio(directory / "tone.wav", seconds=2.0, silent_seconds=1.0, channels=2),
        "image": make_image(directory / "photo.jpg", orientation=6),
        "pdf": make_text_pdf(directory / "report.pdf", [words[0], words[1], None]),
        "docx": make_docx(directory / "letter.docx", words),
        "html": make_html(directory / "page.html", title="Results", paragraphs=words),
        "markdown": make_markdown(directory / "notes.md", heading="Results", paragraphs=words),
        "text": make_text(directory / "notes.txt", words),
    }


def truncate(source: Path, target: Path, fraction: float) -> Path:
    """A copy of ``source`` cut to ``fraction`` of its size (an interrupted upload)."""
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target

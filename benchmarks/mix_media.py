"""The real media the mixed load submits, and a local HTTP server for its URL half.

Not a benchmark itself; ``load_mix.py`` submits these files as uploads and as
URLs served by :class:`MediaServer` (the service must run with
``MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS=true`` to fetch from 127.0.0.1). Each file
is small but real: a JPEG from Pillow, a WAV tone from the standard library's
``wave`` and, when PyAV can encode one, a one-second MP4, so the worker runs the
offline analyser on all three media kinds.
"""

from __future__ import annotations

import io
import math
import struct
import threading
import wave
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A name the server never serves: URL submissions of it are accepted, then failed
# by the worker's download, which gives the mix's retries something to retry.
MISSING = "missing.mp4"


@dataclass(frozen=True)
class Upload:
    """One file as a multipart upload sends it."""

    name: str
    data: bytes
    content_type: str


def make_jpeg(size: tuple[int, int] = (320, 180)) -> bytes:
    from PIL import Image

    image = Image.new("RGB", size, (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def make_wav(seconds: float = 1.0, rate: int = 16000) -> bytes:
    """A 440 Hz tone, 16-bit mono."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        samples = (
            int(12000 * math.sin(2 * math.pi * 440 * n / rate)) for n in range(int(seconds * rate))
        )
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return buffer.getvalue()


def make_mp4(seconds: float = 1.0, size: tuple[int, int] = (64, 48), fps: int = 10) -> bytes | None:
    """A tiny H.264 (or MPEG-4 part 2) clip whose picture changes every frame, or
    None when PyAV cannot encode one here (the mix then goes without video)."""
    try:
        import av
        import numpy as np
    except ImportError:
        return None
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    buffer = io.BytesIO()
    try:
        with av.open(buffer, "w", format="mp4") as container:
            stream = container.add_stream(codec, rate=fps)
            stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
            for index in range(int(seconds * fps)):
                pixels = np.full((size[1], size[0], 3), (index * 25) % 256, dtype=np.uint8)
                container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
            container.mux(stream.encode())
    except (av.FFmpegError, ValueError):
        return None
    return buffer.getvalue()


def sample_uploads() -> list[Upload]:
    """The mix's files: a JPEG, a WAV and (if PyAV can make one) an MP4."""
    uploads = [
        Upload("photo.jpg", make_jpeg(), "image/jpeg"),
        Upload("tone.wav", make_wav(), "audio/wav"),
    ]
    clip = make_mp4()
    if clip is not None:
        uploads.append(Upload("clip.mp4", clip, "video/mp4"))
    return uploads


class MediaServer:
    """Serves ``uploads`` by name on 127.0.0.1 (any other path answers 404), in a
    thread of this process. ``urls`` are the files' addresses plus one of a file it
    does not have (:data:`MISSING`)."""

    def __init__(self, uploads: list[Upload], port: int = 0):
        files = {f"/{upload.name}": upload for upload in uploads}

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                upload = files.get(self.path.split("?")[0])
                if upload is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", upload.content_type)
                self.send_header("Content-Length", str(len(upload.data)))
                self.end_headers()
                self.wfile.write(upload.data)

            def log_message(self, *args) -> None:
                pass  # thousands of fetches: the access log would be noise

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.urls = [f"{self.base}{path}" for path in files]
        self.missing_url = f"{self.base}/{MISSING}"

    def __enter__(self) -> MediaServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> MediaServer:
        return self.__enter__()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

"""A local server speaking the OpenAI ``/audio/transcriptions`` wire format, and
speech-like test audio for it.

The server parses the multipart form, checks the model, ``response_format`` and
the Bearer key, decodes the uploaded audio with PyAV and "hears" it: every burst
of sound becomes one verbose_json segment with its start and end in the upload and
a text naming its pitch ("tone 700 Hz"). Tests then know exactly what each chunk
must contain and where each burst sits in the whole file, so stitching is checked
against the truth, not against the code under test.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import json
import math
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import numpy as np

API_KEY = "sk-transcribe-0123456789abcdef"
MODEL = "whisper-test"
WINDOW_S = 0.01
LOUD = 0.05  # amplitude above which a 10 ms window counts as sound


@dataclass(frozen=True)
class Burst:
    start: float
    duration: float
    frequency: int

    @property
    def end(self) -> float:
        return self.start + self.duration

    @property
    def text(self) -> str:
        return f"tone {self.frequency} Hz"


def make_bursts(path: Path, bursts: list[Burst], seconds: float, rate: int = 44100) -> Path:
    """A WAV of silence with a 0.5-amplitude sine at each burst: speech-like in
    that sound comes in separate stretches a listener can place in time."""
    samples = np.zeros(int(seconds * rate), dtype=np.float64)
    for burst in bursts:
        first, last = int(burst.start * rate), int(burst.end * rate)
        t = np.arange(last - first) / rate
        samples[first:last] = 0.5 * np.sin(2 * math.pi * burst.frequency * t)
    with av.open(str(path), "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=rate)
        stream.layout = "mono"
        stream.format = "s16"
        for start in range(0, samples.size, 4096):
            block = (samples[start : start + 4096] * 32767).astype(np.int16).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def hear(data: bytes) -> tuple[float, list[dict]]:
    """(duration, verbose_json segments) of an uploaded audio file."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        blocks = [
            frame.to_ndarray().astype(np.float64).reshape(-1) for frame in container.decode(stream)
        ]
    samples = np.concatenate(blocks) / 32768.0 if blocks else np.zeros(0)
    window = int(rate * WINDOW_S)
    count = samples.size // window
    loud = np.abs(samples[: count * window]).reshape(count, window).max(axis=1) > LOUD
    segments, index = [], 0
    while index < count:
        if not loud[index]:
            index += 1
            continue
        end = index
        while end < count and loud[end]:
            end += 1
        piece = samples[index * window : end * window]
        spectrum = np.abs(np.fft.rfft(piece))
        pitch = int(round(np.argmax(spectrum) * rate / piece.size, -1))
        segments.append(
            {
                "id": len(segments),
                "start": round(index * WINDOW_S, 3),
                "end": round(end * WINDOW_S, 3),
                "text": f" tone {pitch} Hz",
            }
        )
        index = end
    return samples.size / rate, segments


@dataclass
class Upload:
    filename: str
    model: str
    response_format: str
    size: int
    duration: float


@dataclass
class TranscriptionServer:
    """Run it with ``start()``; ``fail_first`` answers that many calls with 503,
    ``status`` (when set) answers every call with it."""

    fail_first: int = 0
    status: int | None = None
    uploads: list[Upload] = field(default_factory=list)
    calls: int = 0
    auth_seen: list[str] = field(default_factory=list)

    def start(self) -> TranscriptionServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.calls += 1
                server.auth_seen.append(self.headers.get("Authorization") or "")
                self._answer(*server.answer(self.path, self.headers, body))

            def _answer(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}/v1"

    def answer(self, path: str, headers, body: bytes) -> tuple[int, dict]:
        if path != "/v1/audio/transcriptions":
            return 404, {"error": {"message": f"no route {path}"}}
        if headers.get("Authorization") != f"Bearer {API_KEY}":
            return 401, {"error": {"message": "Incorrect API key provided"}}
        if self.status is not None:
            return self.status, {"error": {"message": f"failing on purpose ({self.status})"}}
        if self.fail_first > 0:
            self.fail_first -= 1
            return 503, {"error": {"message": "busy, try again"}}
        form = _multipart(headers.get("Content-Type") or "", body)
        if form.get("model") != MODEL.encode():
            return 400, {"error": {"message": f"unknown model {form.get('model')!r}"}}
        if form.get("response_format") != b"verbose_json":
            return 400, {"error": {"message": "expected response_format=verbose_json"}}
        upload = form.get("file")
        if not upload:
            return 400, {"error": {"message": "no file"}}
        duration, segments = hear(upload)
        self.uploads.append(
            Upload(
                filename=form.get("file.filename", b"").decode(),
                model=MODEL,
                response_format="verbose_json",
                size=len(upload),
                duration=duration,
            )
        )
        return 200, {
            "task": "transcribe",
            "language": "english",
            "duration": duration,
            "text": "".join(s["text"] for s in segments).strip(),
            "segments": segments,
        }


def _multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    """The form's fields by name (a file's name under ``<field>.filename``)."""
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[name] = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename:
            fields[f"{name}.filename"] = filename.encode()
    return fields

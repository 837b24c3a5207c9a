"""A local server speaking OpenAI's chat-completions wire format that bills like a
real one: it reports ``usage`` counted from what it was actually sent, by rules of
its own (not the service's estimator), and counts the calls it received.

- text: every word piece (letters up to 5 at a time, digits up to 3, each other
  mark on its own) is a token, as byte-pair encoders roughly split English and JSON,
  plus 3 tokens per message and 3 for the reply's priming (OpenAI's cookbook rule);
- pictures: decoded from their data: URLs and billed by OpenAI's documented tiling
  (fit in 2048x2048, shortest side at most 768, 85 + 170 per 512-px tile);
- the answer: ``answer`` (about 1,400 characters of prose, a typical description),
  counted by the same text rule.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

API_KEY = "sk-costs-test"
MODEL = "gpt-4o-mini"  # in the price table: 0.15 / 0.60 USD per million tokens
_PIECES = re.compile(r"[A-Za-z]{1,5}|\d{1,3}|[^\sA-Za-z\d]")

ANSWER = (
    "The picture shows a flat field of a single warm colour with a few soft variations "
    "in brightness toward the edges, which suggests it was generated rather than "
    "photographed. There are no people, animals, vehicles or written words anywhere in "
    "the frame, and no recognisable objects stand out from the background. The "
    "composition is wide rather than tall, in the 16:9 proportion common for screens, "
    "and the measured facts agree: 640 by 360 pixels, stored as a baseline JPEG without "
    "camera information, so nothing can be said about where or when it was taken. The "
    "colours are evenly distributed, the noise level is very low and the compression "
    "has left only faint blocking artefacts around the brighter areas. If this image "
    "was meant to carry a message, it does so only through its colour, which reads as "
    "calm and neutral. Nothing in it is unsafe, private or sensitive, and nothing in "
    "it asks the viewer to do anything. In short, it is a plain synthetic test picture: "
    "useful for checking that a pipeline handles images end to end, but without content "
    "worth describing in more detail than its size, its proportions and its single "
    "dominant colour, which I have done above as precisely as the material allows. "
    "Should a closer reading be needed, a larger or more varied picture would give the "
    "analysis far more to work with than this one does, and the same prompt could be asked again."
)


def text_tokens(text: str) -> int:
    return len(_PIECES.findall(text))


def picture_tokens(width: int, height: int) -> int:
    scale = min(1.0, 2048 / max(width, height))
    width, height = width * scale, height * scale
    scale = min(1.0, 768 / min(width, height))
    width, height = width * scale, height * scale
    return 85 + 170 * math.ceil(width / 512) * math.ceil(height / 512)


def prompt_tokens(body: dict) -> int:
    total = 3
    for message in body.get("messages", []):
        total += 3
        content = message.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for part in parts or []:
            if part.get("type") == "text":
                total += text_tokens(part["text"])
            elif part.get("type") == "image_url":
                data = part["image_url"]["url"].split(",", 1)[1]
                with Image.open(io.BytesIO(base64.b64decode(data))) as picture:
                    total += picture_tokens(*picture.size)
    if "response_format" in body:
        total += text_tokens(json.dumps(body["response_format"]))
    return total


class BillingProvider:
    """Answers every chat completion with ``answer`` and the usage it counted."""

    def __init__(self, answer: str = ANSWER) -> None:
        self.answer = answer
        self.calls: list[dict] = []
        self.lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length))
                usage = {
                    "prompt_tokens": prompt_tokens(body),
                    "completion_tokens": text_tokens(provider.answer),
                }
                with provider.lock:
                    provider.calls.append({"body": body, "usage": usage})
                reply = json.dumps(
                    {
                        "id": "chatcmpl-costs",
                        "model": MODEL,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": provider.answer},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": usage,
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def hits(self) -> int:
        with self.lock:
            return len(self.calls)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def env(self) -> dict[str, str]:
        """What a deployment sets to use this server as its OpenAI-compatible provider."""
        return {
            "OPENAI_BASE_URL": self.base_url,
            "OPENAI_API_KEY": API_KEY,
            "OPENAI_MODEL": MODEL,
            "PROVIDER_MAX_RETRIES": "0",
        }

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

"""A local server speaking the OpenAI chat-completions wire format, answering after a
delay: a provider call slow enough to kill, stop or freeze a worker in the middle
of an analysis. It counts the calls it received and the ones it answered."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_KEY = "sk-operations-test"


class SlowProvider:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.received = 0
        self.answered = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                provider.received += 1
                time.sleep(provider.delay)
                body = json.dumps(
                    {
                        "id": "chatcmpl-ops",
                        "model": "ops-model",
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": "A clip."}}
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 3},
                    }
                ).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    provider.answered += 1
                except OSError:
                    pass  # the worker that asked is gone

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def env(self) -> dict[str, str]:
        """What a deployment sets to use this server as its OpenAI-compatible provider."""
        return {
            "OPENAI_BASE_URL": self.base_url,
            "OPENAI_API_KEY": API_KEY,
            "PROVIDER_MAX_RETRIES": "0",
        }

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

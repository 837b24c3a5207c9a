"""Progress end to end (issue 14): the real web (gunicorn as shipped, its cached
fast path) and Celery worker (``celery -A media_analysis worker``), a media server
that trickles a video with its Content-Length, and a provider that takes 3 s.
Polling the status over HTTP sees the stage advance in order (queued or
downloading, the download's percent rising, ..., asking_provider), never back,
then the request completed with no progress."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from analysis.progress import RANK, Stage
from tests.operations.provider_server import SlowProvider

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TRICKLE_SECONDS = 4.0
PIECES = 16
POLL_EVERY = 0.1


class TricklingMediaServer:
    """Serves one file with its Content-Length, in ``PIECES`` pieces over
    ``TRICKLE_SECONDS``: a slow download whose share received is known."""

    def __init__(self, path: Path) -> None:
        data = path.read_bytes()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                size = -(-len(data) // PIECES)
                try:
                    for start in range(0, len(data), size):
                        self.wfile.write(data[start : start + size])
                        self.wfile.flush()
                        time.sleep(TRICKLE_SECONDS / PIECES)
                except OSError:
                    pass  # the worker gave up

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/clip.mp4"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def media_server(video):
    server = TricklingMediaServer(video)
    yield server
    server.stop()


@pytest.fixture
def provider():
    server = SlowProvider(delay=3.0)
    yield server
    server.stop()


def test_polling_sees_the_stages_advance_in_order_then_completed(stack, media_server, provider):
    stack.env.update(
        provider.env(),
        MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS="true",  # the media server is on 127.0.0.1
        API_THROTTLE_READ_RATE="100/s",
    )
    stack.start_web()
    stack.start_worker()
    seen: list[tuple[str, dict | None, str]] = []  # (status, progress, X-Data-Source)
    with stack.api() as api:
        submitted = api.post(
            "/api/media/analyze",
            json={"media_url": media_server.url, "prompt": "What happens?", "provider": "openai"},
        )
        assert submitted.status_code == 202, submitted.text
        status_url = submitted.json()["links"]["status"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            response = api.get(status_url)
            assert response.status_code == 200, response.text
            body = response.json()
            seen.append((body["status"], body["progress"], response.headers["X-Data-Source"]))
            if body["status"] not in ("pending", "processing"):
                break
            time.sleep(POLL_EVERY)

    final_status, final_progress, _ = seen[-1]
    assert final_status == "completed", (seen[-5:], stack.logs())
    assert final_progress is None
    running = [(status, progress) for status, progress, _ in seen[:-1]]
    assert all(progress is not None for _, progress in running), running
    stages = [progress["stage"] for _, progress in running]
    # In order, never back: queued while pending, then the run's stages.
    assert [RANK[Stage(s)] for s in stages] == sorted(RANK[Stage(s)] for s in stages), stages
    assert stages[0] in ("queued", "downloading")
    assert {"downloading", "asking_provider"} <= set(stages), stages
    assert all(
        (status == "pending") == (progress["stage"] == "queued") for status, progress in running
    )
    # The download's percent rises (writes at most once a second, 5 points apart).
    percents = [p["percent"] for _, p in running if p["stage"] == "downloading" and p["percent"]]
    assert len(set(percents)) >= 2 and percents == sorted(percents), percents
    assert all(0 < p <= 100 for p in percents)
    # The cached fast path carries the progress too: most polls were answered by it.
    cached = [progress for status, progress, source in seen if source == "cache"]
    assert any(p is not None and p["stage"] == "asking_provider" for p in cached), seen
    print(
        f"\n  {len(seen)} polls; stages seen: {sorted(set(stages), key=lambda s: RANK[Stage(s)])}"
    )
    print(f"  download percents seen: {sorted(set(percents))}")
    print(f"  answered from the cache: {sum(source == 'cache' for _, _, source in seen)}")

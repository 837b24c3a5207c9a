"""A batch end to end (issue 14): the real web and Celery worker processes as
shipped, three images fetched by URL from a local file server, and a local
receiver that hears ``batch.completed`` once, signed with the caller's secret."""

from __future__ import annotations

import functools
import json
import shutil
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.fernet import Fernet

from analysis.webhooks import signing
from tests.conftest import wait_until
from tests.webhooks.receiver import start_receiver

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        return


@pytest.fixture
def file_server(tmp_path, image):
    folder = tmp_path / "public"
    folder.mkdir()
    for n in range(3):
        shutil.copy(image, folder / f"photo-{n}.jpg")
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietFiles, directory=str(folder))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_batch_runs_on_the_worker_and_announces_its_completion_once(stack, file_server):
    # Product settings: loopback media and receivers allowed, a vault key for secrets.
    env = {
        "MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS": "true",
        "WEBHOOK_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }
    stack.env.update(env)
    stack.start_web()
    stack.start_worker()
    receiver = start_receiver()
    try:
        items = [
            {"media_url": f"{file_server}/photo-{n}.jpg", "prompt": f"Describe photo {n}"}
            for n in range(3)
        ]
        with stack.api() as api:
            bad = api.post(
                "/api/media/analyze/batch",
                json={"items": [*items, {"media_url": f"{file_server}/x.jpg", "prompt": ""}]},
            )
            assert bad.status_code == 400, bad.text
            assert bad.json()["error"]["items"][0]["index"] == 3
            assert api.get("/api/media/history").json()["results"] == []

            answer = api.post(
                "/api/media/analyze/batch", json={"items": items, "callback_url": receiver.url}
            )
            assert answer.status_code == 202, answer.text
            accepted = answer.json()
            began = time.monotonic()
            wait_until(lambda: receiver.received, 120, "batch.completed")
            took = time.monotonic() - began
            time.sleep(3)  # a second notice, were there one, would arrive by now
            progress = api.get(accepted["status_url"]).json()

        [notice] = receiver.received
        assert signing.verify(accepted["callback_secret"], notice.headers, notice.body)
        body = json.loads(notice.body)
        assert body == progress, stack.logs()
        assert body["status"] == "completed" and body["counts"]["completed"] == 3, stack.logs()
        assert [item["id"] for item in body["items"]] == accepted["item_ids"]
        print(f"batch of 3 completed and announced in {took:.1f} s")
    finally:
        receiver.stop()

"""Structured answers end to end (issue 13): the real web and Celery worker
processes, a real image, and a local server speaking the OpenAI chat-completions
wire format whose first answer does not match the caller's schema. The worker
repairs it once and the status response returns the validated data."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import wait_until
from tests.operations.stack import submit_upload

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCHEMA = {
    "type": "object",
    "properties": {"colour": {"type": "string", "enum": ["red", "green", "blue"]}},
    "required": ["colour"],
}


class ScriptedProvider:
    """Answers each chat completion with the next of ``answers``; keeps the bodies."""

    def __init__(self, answers: list[str]) -> None:
        self.answers, self.bodies = list(answers), []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                provider.bodies.append(json.loads(self.rfile.read(length)))
                text = provider.answers.pop(0)
                body = json.dumps(
                    {
                        "model": "ops-model",
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": text}}
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 3},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def env(self) -> dict[str, str]:
        return {
            "OPENAI_BASE_URL": f"http://127.0.0.1:{self.server.server_address[1]}/v1",
            "OPENAI_API_KEY": "sk-operations-test",
            "OPENAI_MODEL": "ops-model",
            "PROVIDER_MAX_RETRIES": "0",
        }

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted():
    server = ScriptedProvider(['{"colour": "crimson"}', '```json\n{"colour": "red"}\n```'])
    yield server
    server.stop()


def test_a_wrong_answer_is_repaired_by_the_worker_and_returned_as_result_data(
    stack, scripted, image, settings
):
    stack.env.update(scripted.env())
    stack.start_web()
    stack.start_worker()
    with stack.api() as api:
        response = submit_upload(
            api, image, provider="openai", options=json.dumps({"response_schema": SCHEMA})
        )
        assert response.status_code == 202, response.text
        status_url = response.json()["links"]["status"]
        wait_until(
            lambda: api.get(status_url).json()["status"] in ("completed", "failed"),
            60,
            "the analysis",
        )
        body = api.get(status_url).json()

    assert body["status"] == "completed", (body["error"], stack.logs())
    assert body["result"]["data"] == {"colour": "red"}
    assert body["options"]["response_schema"] == SCHEMA
    first, second = scripted.bodies
    assert first["response_format"]["json_schema"]["schema"] == SCHEMA
    repair = "\n".join(p["text"] for p in second["messages"][1]["content"] if p["type"] == "text")
    assert "'crimson' is not one of ['red', 'green', 'blue']" in repair
    (result_json,) = settings.STORAGE_ROOT.glob(f"outputs/*/{body['id']}/result.json")
    assert json.loads(result_json.read_text())["data"] == {"colour": "red"}

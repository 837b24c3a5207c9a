"""schemathesis against the OpenAPI schema, on a real gunicorn: every operation,
positive and negative inputs, for at most 60 seconds. No 500, no undocumented
status or content type, no response that breaks its schema, and no input that
breaks the schema accepted. (Positive-data acceptance is left out: the schema
cannot say which addresses are public or which prompts are blank after trimming.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from analysis.models import AnalysisStatus
from analysis.webhooks.registry import register_endpoint
from tests.api.conftest import make_caller, make_completed, make_request
from tests.api.servers import start_gunicorn
from tests.conftest import database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MAX_SECONDS = 60


def test_schemathesis_finds_no_500_and_no_schema_violation(tmp_path, storage_root, settings):
    caller = make_caller("fuzzer")
    webhook_key = Fernet.generate_key().decode()
    settings.WEBHOOK_ENCRYPTION_KEY = [webhook_key]
    # A webhook endpoint of the caller's: /api/webhooks/{id} (GET, PATCH, DELETE,
    # rotate-secret) is fuzzed on a real one too, not only on 404s.
    endpoint = register_endpoint(caller.user, url="http://93.184.215.14/hooks").endpoint
    ids = [str(make_completed(caller.user).id), str(endpoint.id)] + [
        str(make_request(caller.user, status=status).id)
        for status in (AnalysisStatus.FAILED, AnalysisStatus.PENDING, AnalysisStatus.CANCELLED)
    ]
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        "[dictionaries.request_ids]\n"
        f"values = {json.dumps(ids)}\n\n"
        "[parameters]\n"
        '"path.id" = { dictionary = "request_ids", probability = 0.5 }\n\n'
        # Every check (the default), but positive-data acceptance (see above). In the
        # file, not as --checks: the command line would override the operation's.
        "[checks.positive_data_acceptance]\nenabled = false\n\n"
        # A multipart form's fields are text: schemathesis's "prompt became an
        # object" sends the object's JSON, which is a prompt like any other text.
        # Refusing wrong JSON bodies on submit is tested in test_submit.py.
        "[[operations]]\n"
        'include-path = "/api/media/analyze"\n'
        "checks.negative_data_rejection.enabled = false\n\n"
        # The estimate takes the analyze body, parsed by the same code: the same reason.
        "[[operations]]\n"
        'include-path = "/api/media/estimate"\n'
        "checks.negative_data_rejection.enabled = false\n"
    )
    server = start_gunicorn(
        tmp_path,
        {
            "DATABASE_URL": database_url(connection.settings_dict["NAME"]),
            "MEDIA_ANALYSIS_STORAGE_ROOT": str(storage_root),
            "API_THROTTLE_READ_RATE": "1000000/min",
            "API_THROTTLE_WRITE_RATE": "1000000/min",
            # /api/webhooks registers endpoints (their secrets are encrypted with it).
            "WEBHOOK_ENCRYPTION_KEY": webhook_key,
        },
    )
    try:
        run = subprocess.run(
            [
                str(Path(sys.executable).with_name("st")),
                "--config-file",
                str(config),
                "run",
                f"{server.url}/api/schema/",
                "-H",
                f"Authorization: Token {caller.token}",
                "--max-time",
                str(MAX_SECONDS),
                "--workers",
                "2",
                "--request-timeout",
                "20",
                "--no-color",
                "--report",
                "junit",
                "--report-junit-path",
                str(tmp_path / "junit.xml"),
            ],
            capture_output=True,
            text=True,
            timeout=MAX_SECONDS + 60,
        )
    finally:
        server.stop()
    summary = run.stdout[-6000:]
    assert run.returncode == 0, f"{summary}\n--- server log ---\n{server.log()[-4000:]}"
    assert "generated" in summary  # it ran cases
    assert "Internal Server Error" not in server.log()

"""schemathesis against the OpenAPI schema, on a real gunicorn: every operation,
every check and every phase (examples, coverage, fuzzing, and the stateful phase,
which follows the schema's links from the ids answers give), for a bounded time.
No 500, no undocumented status or content type, no response that breaks its
schema, no schema-invalid input accepted and no schema-valid input refused: the
positive-data check is schemathesis's own with the refusals no schema can state
accepted, and nothing else; the negative-data check is schemathesis's own, minus
one false positive of its stateful phase (tests/api/fuzz_hooks.py says which and
why)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from analysis.models import AnalysisStatus
from analysis.webhooks.registry import register_endpoint
from tests.api.conftest import make_caller, make_completed, make_request
from tests.api.servers import ROOT, start_gunicorn
from tests.conftest import database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MAX_SECONDS = 90
HOOKS = "tests.api.fuzz_hooks"


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
        # Every check (the default); positive- and negative-data checks as
        # fuzz_hooks.py replaces them (the built-in checks, narrowed as it says).
        # In the file, not as --checks: the command line would override it.
        "[checks.positive_data_acceptance]\nenabled = false\n\n"
        "[checks.negative_data_rejection]\nenabled = false\n"
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
            # options.transcribe=true is refused without one (a setting, not a shape);
            # no worker runs here, so nothing is ever sent to it.
            "TRANSCRIPTION_BASE_URL": "http://127.0.0.1:9/v1",
        },
    )
    marker = tmp_path / "positive-check-ran"
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
                "--phases",
                "examples,coverage,fuzzing,stateful",
                "--max-time",
                str(MAX_SECONDS),
                # One worker: schemathesis's generation in threads hit a CPython 3.11
                # compiler error ("AST constructor recursion depth mismatch").
                "--workers",
                "1",
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
            env={
                **os.environ,
                "SCHEMATHESIS_HOOKS": HOOKS,
                "PYTHONPATH": str(ROOT),
                "FUZZ_CHECK_MARKER": str(marker),
            },
            cwd=ROOT,
            timeout=MAX_SECONDS + 90,
        )
    finally:
        server.stop()
    (tmp_path / "schemathesis.txt").write_text(run.stdout)  # the whole report
    failures = run.stdout.find("= FAILURES =")
    summary = run.stdout[failures:][:12000] if failures >= 0 else run.stdout[-6000:]
    assert run.returncode == 0, f"{summary}\n--- server log ---\n{server.log()[-4000:]}"
    assert "generated" in summary  # it ran cases
    assert "Internal Server Error" not in server.log()
    assert marker.exists()  # the checks of fuzz_hooks.py ran
    # The stateful phase ran and followed links: analyze -> status/retry/cancel/...
    assert "Stateful" in summary and "API Links:" in summary, summary
    covered = int(summary.split("API Links:")[1].split("covered")[0])
    assert covered >= 5, summary  # 14 to 21 in runs on 2 shared cores

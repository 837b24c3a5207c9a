"""Regenerate the typed Python client (clients/python) from the API's OpenAPI
schema: ``python3 dev.py client``. Offline: the schema is written by ``manage.py
spectacular``, no server is needed. tests/api/test_generated_client.py checks that
the committed client is what this generates from the current schema."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "clients" / "openapi-python-client.yaml"
OUTPUT = ROOT / "clients" / "python"
PACKAGE = "media_analysis_client"


def _tools_env() -> dict[str, str]:
    # The generator's post-hooks run ruff: the venv's, found on PATH.
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


def write_schema(path: Path) -> None:
    """The schema as the API serves it, as JSON, validated."""
    command = [sys.executable, "manage.py", "spectacular", "--format", "openapi-json"]
    subprocess.run([*command, "--validate", "--file", str(path)], cwd=ROOT, check=True)


def generate(schema: Path, output: Path) -> None:
    """The client package for ``schema`` in ``output`` (replaced)."""
    generator = Path(sys.executable).with_name("openapi-python-client")
    subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(schema),
            "--config",
            str(CONFIG),
            "--meta",
            "uv",
            "--output-path",
            str(output),
            "--overwrite",
            "--fail-on-warning",
        ],
        cwd=output.parent,
        env=_tools_env(),
        check=True,
        capture_output=True,
        text=True,
    )
    shutil.rmtree(output / ".ruff_cache", ignore_errors=True)


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        schema = Path(folder) / "openapi.json"
        write_schema(schema)
        generate(schema, OUTPUT)
    print(f"client written to {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

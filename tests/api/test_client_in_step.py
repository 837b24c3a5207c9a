"""The committed typed client (clients/python) is what ``python3 dev.py client``
generates from the current schema: a schema change without regenerating it fails."""

from __future__ import annotations

from pathlib import Path

from clients.generate import OUTPUT, generate, write_schema


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and ".ruff_cache" not in path.parts
    }


def test_the_committed_client_is_generated_from_the_current_schema(tmp_path):
    schema = tmp_path / "openapi.json"
    write_schema(schema)
    generate(schema, tmp_path / "python")
    fresh, committed = _files(tmp_path / "python"), _files(OUTPUT)
    assert sorted(fresh) == sorted(committed), "run: python3 dev.py client"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"out of step with the schema (run: python3 dev.py client): {stale}"

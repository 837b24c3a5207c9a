"""Backups on the object store (a real SeaweedFS): a set holds every object of the
bucket (hard-linked to the previous set's copy when unchanged), and ``restore``
puts them back into a bucket, checked, with the rows pointing at them."""

from __future__ import annotations

import dataclasses
import os

import pytest

from storage_app.backends import get_backend
from storage_app.backends.s3 import S3Backend
from storage_app.backup.create import create_backup
from storage_app.backup.objects import store_location
from storage_app.layout import Category
from storage_app.writer import store_file
from tests.backup.conftest import Databases, env_for, manage, manifest_files, query
from tests.storage.s3rows import put_indexed, put_object

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def databases():
    made = Databases([])
    yield made
    for name in made.names:
        made.drop(name)


@pytest.fixture
def stored(storage_root, object_store, make_request):
    """Objects with rows, one without (an extra: sets hold what the store holds),
    and a local temp file (never in a set). Key -> content."""
    store, request = get_backend(), make_request()
    contents = {}
    for category, name, content in (
        (Category.UPLOADS, "original.mp4", os.urandom(6 * 1024 * 1024)),  # two parts
        (Category.FRAMES, "frame_001.jpg", b"frame"),
        (Category.CONTACT_SHEETS, "contact_sheet.jpg", b"sheet"),
        (Category.OUTPUTS, "result.json", b'{"ok": true}'),
    ):
        key, _ = put_indexed(store, category, request, 1, content, name=name)
        contents[key] = content
    extra = put_object(store, Category.FRAMES, request, 1, b"no row", name="frame_002.jpg")
    contents[extra] = b"no row"
    store_file(b"scratch", category=Category.TEMP, request_id=request.id, name="x.part")
    return contents


def s3_env(config, **extra) -> dict[str, str]:
    return {
        "MEDIA_ANALYSIS_STORAGE_BACKEND": "s3",
        "AWS_STORAGE_BUCKET_NAME": config.bucket,
        "AWS_ACCESS_KEY_ID": config.access_key,
        "AWS_SECRET_ACCESS_KEY": config.secret_key,
        "AWS_S3_ENDPOINT_URL": config.endpoint_url,
        "AWS_S3_REGION_NAME": config.region,
        "AWS_LOCATION": config.prefix,
        **extra,
    }


def test_a_set_holds_every_object_and_the_next_one_links_unchanged_ones(stored, tmp_path):
    first = create_backup(output=tmp_path / "sets" / "first", say=print)

    files = manifest_files(first.path)
    assert set(files) == set(stored)
    for key, content in stored.items():
        assert (first.path / "files" / key).read_bytes() == content
    assert first.manifest.consistency.ok, first.manifest.consistency
    assert first.manifest.consistency.live_rows == 4
    assert first.manifest.storage.storage_root == store_location(get_backend())
    assert first.manifest.storage.total_bytes == sum(map(len, stored.values()))

    second = create_backup(output=tmp_path / "sets" / "second", say=print)
    assert second.manifest.storage.previous_set == "first"
    assert second.manifest.storage.linked_count == len(stored)
    for key in stored:
        assert (second.path / "files" / key).stat().st_ino == (
            first.path / "files" / key
        ).stat().st_ino


def test_restore_puts_the_objects_back_and_points_the_rows_at_them(
    stored, object_store, tmp_path, databases
):
    set_dir = create_backup(output=tmp_path / "set", say=print).path
    target_db = databases.create("s3restore")
    # Another deployment: an empty prefix of the bucket, a local root with nothing.
    elsewhere = dataclasses.replace(object_store, prefix=f"{object_store.prefix}-restored")
    local_root = tmp_path / "restored-root"
    env = {**env_for(target_db, local_root), **s3_env(elsewhere)}

    restored = manage("restore", str(set_dir), env=env)

    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "live file rows have their file with the recorded checksum" in restored.stdout
    target = S3Backend(elsewhere)
    assert sorted(info.key for info in target.list("")) == sorted(stored)
    for key, content in stored.items():
        with target.open(key) as handle:
            assert handle.read() == content
    rows = query(
        target_db,
        "SELECT relative_path, storage_path FROM media_files UNION ALL "
        "SELECT relative_path, storage_path FROM contact_sheets",
    )
    assert len(rows) == 4
    assert all(path == target.uri_for(key) for key, path in rows)
    assert not any(p.is_file() for p in local_root.rglob("*")) if local_root.exists() else True

    # The prefix is not empty any more: a second restore there is refused.
    again = manage(
        "restore", str(set_dir), env={**env, **env_for(databases.create("s3r2"), local_root)}
    )
    assert again.returncode == 2, again.stdout + again.stderr
    assert "is not empty" in again.stderr

"""MEDIA_ANALYSIS_STORAGE_BACKEND and the object store's settings: filesystem by
default, s3 refused without its bucket and credentials or with junk, secrets never
shown."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from media_analysis.object_store_settings import (
    MIB,
    ObjectStoreSettings,
    read_object_store,
    read_storage_backend,
)
from tests.conftest import run_manage

SECRET = "s3cr3t-value-never-shown"
VARIABLES = (
    "MEDIA_ANALYSIS_STORAGE_BACKEND",
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_S3_ENDPOINT_URL",
    "AWS_S3_REGION_NAME",
    "AWS_LOCATION",
    "AWS_S3_ADDRESSING_STYLE",
    "STORAGE_S3_PART_SIZE_MB",
    "STORAGE_S3_MAX_CONCURRENCY",
    "MEDIA_ANALYSIS_S3_SERVE",
    "AWS_QUERYSTRING_EXPIRE",
)


@pytest.fixture
def env(monkeypatch):
    """A clean slate for the variables read here; returns a setter."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_env


def complete(**overrides: str) -> dict[str, str]:
    values = {
        "AWS_STORAGE_BUCKET_NAME": "media-prod",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": SECRET,
    }
    values.update(overrides)
    return values


def test_filesystem_is_the_default_and_needs_no_object_store(env):
    assert read_storage_backend() == "filesystem"
    assert read_object_store("filesystem") is None


def test_a_junk_backend_is_refused_naming_the_variable(env):
    env(MEDIA_ANALYSIS_STORAGE_BACKEND="gcs")
    with pytest.raises(ImproperlyConfigured, match="MEDIA_ANALYSIS_STORAGE_BACKEND"):
        read_storage_backend()


def test_s3_with_everything_set(env):
    env(
        **complete(
            AWS_S3_ENDPOINT_URL="https://abc123.r2.cloudflarestorage.com/",
            AWS_S3_REGION_NAME="auto",
            AWS_LOCATION="/media/prod/",
            STORAGE_S3_PART_SIZE_MB="16",
            STORAGE_S3_MAX_CONCURRENCY="2",
        )
    )

    config = read_object_store("s3")

    assert config == ObjectStoreSettings(
        bucket="media-prod",
        access_key="AKIAEXAMPLE",
        secret_key=SECRET,
        endpoint_url="https://abc123.r2.cloudflarestorage.com",
        region="auto",
        prefix="media/prod",
        addressing_style="path",  # an endpoint is set: self-hosted stores want path style
        part_size_bytes=16 * MIB,
        max_concurrency=2,
    )
    assert SECRET not in repr(config)


def test_aws_itself_defaults_to_automatic_addressing(env):
    env(**complete())
    config = read_object_store("s3")
    assert (config.endpoint_url, config.addressing_style, config.prefix) == (None, "auto", "")
    assert (config.part_size_bytes, config.max_concurrency) == (8 * MIB, 4)
    assert (config.serve, config.presign_seconds) == ("redirect", 300)


def test_serving_by_stream_and_the_presign_lifetime_are_read(env):
    env(**complete(MEDIA_ANALYSIS_S3_SERVE="Stream", AWS_QUERYSTRING_EXPIRE="60"))
    config = read_object_store("s3")
    assert (config.serve, config.presign_seconds) == ("stream", 60)


@pytest.mark.parametrize(
    "missing",
    [
        ("AWS_STORAGE_BUCKET_NAME",),
        ("AWS_ACCESS_KEY_ID",),
        ("AWS_SECRET_ACCESS_KEY",),
        ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    ],
)
def test_s3_without_its_bucket_or_credentials_is_refused(env, missing):
    env(**{name: value for name, value in complete().items() if name not in missing})

    with pytest.raises(ImproperlyConfigured) as refused:
        read_object_store("s3")

    for name in missing:
        assert name in str(refused.value)
    assert SECRET not in str(refused.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AWS_STORAGE_BUCKET_NAME", "My_Bucket"),
        ("AWS_STORAGE_BUCKET_NAME", "ab"),
        ("AWS_STORAGE_BUCKET_NAME", "a..b"),
        ("AWS_S3_ENDPOINT_URL", "minio:9000"),
        ("AWS_S3_ENDPOINT_URL", "ftp://minio:9000"),
        ("AWS_S3_ENDPOINT_URL", "http://user:pw@minio:9000"),
        ("AWS_S3_ENDPOINT_URL", "http://minio:9000/bucket"),
        ("AWS_S3_ENDPOINT_URL", "http://minio:99999"),
        ("AWS_S3_REGION_NAME", "us east 1"),
        ("AWS_LOCATION", "../escape"),
        ("AWS_LOCATION", "a//b"),
        ("AWS_LOCATION", "with space"),
        ("AWS_S3_ADDRESSING_STYLE", "sideways"),
        ("STORAGE_S3_PART_SIZE_MB", "4"),
        ("STORAGE_S3_PART_SIZE_MB", "lots"),
        ("STORAGE_S3_MAX_CONCURRENCY", "0"),
        ("MEDIA_ANALYSIS_S3_SERVE", "proxy"),
        ("AWS_QUERYSTRING_EXPIRE", "0"),
        ("AWS_QUERYSTRING_EXPIRE", "604801"),
        ("AWS_QUERYSTRING_EXPIRE", "soon"),
    ],
)
def test_junk_is_refused_naming_the_variable(env, name, value):
    env(**complete(**{name: value}))

    with pytest.raises(ImproperlyConfigured, match=name):
        read_object_store("s3")


def test_start_up_stops_on_an_incomplete_s3_configuration():
    blank = {name: "" for name in VARIABLES}
    result = run_manage(
        "check",
        env={**blank, "MEDIA_ANALYSIS_STORAGE_BACKEND": "s3", "AWS_SECRET_ACCESS_KEY": SECRET},
        check=False,
    )

    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in message
    assert "AWS_STORAGE_BUCKET_NAME" in message and "AWS_ACCESS_KEY_ID" in message
    assert SECRET not in result.stderr + result.stdout

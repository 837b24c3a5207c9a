"""``manage.py ensure_bucket`` against a real SeaweedFS: creates a missing bucket,
leaves an existing one alone, refuses wrong credentials and a filesystem backend
(exit 2), and gives up on a store that never answers once the wait is over
(exit 1), naming the bucket and endpoint but never a secret."""

from __future__ import annotations

import dataclasses
import time
import uuid
from io import StringIO

import pytest
from botocore.exceptions import ClientError
from django.core.management import call_command
from django.core.management.base import CommandError

from media_analysis.embedded import free_port


@pytest.fixture
def new_bucket(object_store, seaweed, settings) -> str:
    """The s3 backend configured on a bucket that does not exist yet."""
    name = f"ensure-{uuid.uuid4().hex[:12]}"
    settings.OBJECT_STORE = dataclasses.replace(object_store, bucket=name)
    return name


def ensure(*args: str) -> str:
    out = StringIO()
    call_command("ensure_bucket", *args, stdout=out)
    return out.getvalue()


def test_a_missing_bucket_is_created_then_left_alone(new_bucket, seaweed):
    client = seaweed.client()
    with pytest.raises(ClientError):
        client.head_bucket(Bucket=new_bucket)

    assert ensure() == f"bucket {new_bucket} created\n"
    client.head_bucket(Bucket=new_bucket)  # raises if it is not there
    client.put_object(Bucket=new_bucket, Key="kept.txt", Body=b"kept")

    assert ensure("--wait", "5") == f"bucket {new_bucket} exists\n"
    assert client.get_object(Bucket=new_bucket, Key="kept.txt")["Body"].read() == b"kept"


def test_wrong_credentials_are_refused(new_bucket, seaweed, settings):
    settings.OBJECT_STORE = dataclasses.replace(
        settings.OBJECT_STORE, secret_key="not-the-secret-key"
    )
    with pytest.raises(CommandError, match="access denied") as raised:
        ensure("--wait", "30")  # a refusal is final: no waiting
    assert raised.value.returncode == 2
    assert "not-the-secret-key" not in str(raised.value)
    with pytest.raises(ClientError):
        seaweed.client().head_bucket(Bucket=new_bucket)


def test_the_filesystem_backend_is_refused(storage_root, settings):
    settings.STORAGE_BACKEND = "filesystem"
    settings.OBJECT_STORE = None
    with pytest.raises(CommandError, match="not s3") as raised:
        ensure()
    assert raised.value.returncode == 2


def test_a_store_that_never_answers_is_given_up_after_the_wait(object_store, settings):
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings.OBJECT_STORE = dataclasses.replace(object_store, endpoint_url=endpoint)
    started = time.monotonic()
    with pytest.raises(CommandError, match="does not answer") as raised:
        ensure("--wait", "2")
    assert raised.value.returncode == 1
    assert endpoint in str(raised.value) and object_store.bucket in str(raised.value)
    assert time.monotonic() - started >= 2
    assert object_store.secret_key not in str(raised.value)

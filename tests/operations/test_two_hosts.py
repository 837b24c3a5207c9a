"""Many hosts on the object store (issue 15): a gunicorn web process and two
`celery -A media_analysis worker` processes (the heavy and the light pool, as
stack.py starts them), each with a storage root of its own standing for its own
disk, sharing only PostgreSQL, Redis and a real S3 server (SeaweedFS). A video,
an image, an audio file and a document uploaded through the API complete with one
result each; the contact sheet and every frame are fetched through the API (a
302 to a presigned URL, then plain HTTP); no local storage root keeps any file,
temp/ included."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import httpx
import pytest

from analysis.models import AnalysisRequest, AnalysisResult
from media_analysis.object_store_settings import ObjectStoreSettings
from storage_app.backends import get_backend
from storage_app.models import ContactSheet, MediaFile
from tests.conftest import wait_until
from tests.operations.stack import HEAVY_WORKER_FLAGS, LIGHT_WORKER_FLAGS, submit_upload
from tests.processing.media_factory import make_audio, make_text_pdf
from tests.storage.seaweed import SeaweedServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BUCKET = "media-analysis-hosts"


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory):
    server = SeaweedServer(tmp_path_factory.mktemp("seaweed")).start()
    try:
        server.create_bucket(BUCKET)
        yield server
    finally:
        server.stop()


@pytest.fixture
def on_s3(stack, seaweed, settings) -> ObjectStoreSettings:
    """The stack's processes and this test both on the bucket, under a prefix of
    this test's own."""
    prefix = f"hosts-{uuid.uuid4().hex[:12]}"
    stack.env.update(
        MEDIA_ANALYSIS_STORAGE_BACKEND="s3",
        AWS_STORAGE_BUCKET_NAME=BUCKET,
        AWS_ACCESS_KEY_ID=seaweed.access_key,
        AWS_SECRET_ACCESS_KEY=seaweed.secret_key,
        AWS_S3_ENDPOINT_URL=seaweed.endpoint_url,
        AWS_S3_REGION_NAME=seaweed.region,
        AWS_LOCATION=prefix,
    )
    config = ObjectStoreSettings(
        bucket=BUCKET,
        access_key=seaweed.access_key,
        secret_key=seaweed.secret_key,
        endpoint_url=seaweed.endpoint_url,
        region=seaweed.region,
        prefix=prefix,
        addressing_style="path",
    )
    settings.STORAGE_BACKEND = "s3"
    settings.OBJECT_STORE = config
    return config


def files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def fetched_through_redirect(api: httpx.Client, path: str) -> bytes:
    answer = api.get(path, headers={"Accept": "image/jpeg"}, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    image = httpx.get(answer.headers["Location"], timeout=30)  # no token: the URL is signed
    assert image.status_code == 200
    return image.content


def test_web_and_two_workers_share_only_the_database_redis_and_the_bucket(
    stack, on_s3, tmp_path, video, image
):
    roots = {name: tmp_path / f"root-{name}" for name in ("web", "heavy", "light")}
    stack.env["MEDIA_ANALYSIS_STORAGE_ROOT"] = str(roots["web"])
    stack.start_web()
    heavy = stack.start_worker(*HEAVY_WORKER_FLAGS, MEDIA_ANALYSIS_STORAGE_ROOT=str(roots["heavy"]))
    light = stack.start_worker(*LIGHT_WORKER_FLAGS, MEDIA_ANALYSIS_STORAGE_ROOT=str(roots["light"]))
    media = {
        "video": video,
        "image": image,
        "audio": make_audio(tmp_path / "tone.wav", seconds=2.0),
        "document": make_text_pdf(tmp_path / "report.pdf", ["Sales rose in every region."]),
    }

    with stack.api() as api:
        ids = {}
        for kind, path in media.items():
            response = submit_upload(api, path)
            assert response.status_code == 202, response.text
            ids[kind] = response.json()["id"]
        wait_until(
            lambda: (
                AnalysisRequest.objects.filter(pk__in=ids.values(), status="completed").count()
                == len(ids)
                or AnalysisRequest.objects.filter(pk__in=ids.values(), status="failed").exists()
            ),
            240,
            "the four analyses",
        )
        statuses = dict(
            AnalysisRequest.objects.filter(pk__in=ids.values()).values_list("id", "status")
        )
        assert set(statuses.values()) == {"completed"}, (statuses, stack.logs())
        for kind, request_id in ids.items():
            assert AnalysisResult.objects.filter(request_id=request_id).count() == 1, kind
            assert AnalysisRequest.objects.get(pk=request_id).media_type == kind

        video_id = ids["video"]
        sheet = ContactSheet.objects.get(request_id=video_id)
        assert (
            hashlib.sha256(
                fetched_through_redirect(api, f"/api/media/{video_id}/contact-sheet")
            ).hexdigest()
            == sheet.checksum
        )
        frames = api.get(f"/api/media/status/{video_id}").json()["frames"]
        assert frames
        for frame in frames:
            row = MediaFile.objects.get(
                request_id=video_id, filename=f"frame_{frame['index']:03d}.jpg"
            )
            body = fetched_through_redirect(api, frame["url"])
            assert hashlib.sha256(body).hexdigest() == row.checksum

    # Every row points into the bucket, and its object is there, whole.
    backend = get_backend()
    for key, uri, size, checksum in MediaFile.objects.filter(
        request_id__in=ids.values()
    ).values_list("relative_path", "storage_path", "size_bytes", "checksum"):
        assert uri == f"s3://{BUCKET}/{on_s3.prefix}/{key}"
        assert backend.sha256_of(key) == (size, checksum), key
    # Both pools worked, each on its own disk, and left nothing there.
    assert "analysis task finished" in heavy.text() and "analysis task finished" in light.text()
    for name, root in roots.items():
        assert (root / "temp").is_dir(), name  # its own temp/ was used...
        assert files_under(root) == [], (name, stack.logs())  # ...and emptied

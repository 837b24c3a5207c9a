"""Rows written by plain SQL (another service on the same database) get the same
defaults as rows written through Django, and the database enforces the plan's
foreign keys and CHECK constraints by itself."""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import IntegrityError, connection, transaction

from analysis.models import AnalysisRequest, AnalysisResult, status_writes_allowed
from audit.models import AuditLogEntry
from storage_app.models import ContactSheet, MediaFile

pytestmark = pytest.mark.django_db


def _insert(sql: str, params: list) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(sql + " RETURNING *", params)
        columns = [c.name for c in cursor.description]
        row = dict(zip(columns, cursor.fetchone(), strict=True))
    # Django has psycopg hand JSONB over as text; decode it as any client would.
    return {k: json.loads(v) if k == "metadata" else v for k, v in row.items()}


def _db_now():
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        return cursor.fetchone()[0]


def test_plain_sql_request_gets_every_plan_default():
    row = _insert(
        "INSERT INTO media_analysis_requests (media_url, prompt) VALUES (%s, %s)",
        ["https://x/y.mp4", "describe"],
    )
    assert isinstance(row["id"], uuid.UUID)
    assert isinstance(row["correlation_id"], uuid.UUID)
    assert row["id"] != row["correlation_id"]
    assert row["media_type"] == "unknown"
    assert row["status"] == "pending"
    assert row["retry_count"] == 0
    assert row["metadata"] == {}
    assert row["created_at"] == _db_now()  # now() is the transaction's timestamp


def test_plain_sql_and_django_rows_agree_on_defaults():
    by_sql = _insert(
        "INSERT INTO media_analysis_requests (media_url, prompt) VALUES (%s, %s)", ["u", "p"]
    )
    by_orm = AnalysisRequest.objects.create(media_url="u", prompt="p")
    by_orm.refresh_from_db()
    for column in ("media_type", "status", "retry_count", "metadata"):
        assert getattr(by_orm, column) == by_sql[column], column
    assert by_orm.created_at is not None
    assert by_orm.correlation_id is not None


def test_plain_sql_children_get_their_defaults():
    request_id = _insert(
        "INSERT INTO media_analysis_requests (media_url, prompt) VALUES ('u', 'p')", []
    )["id"]
    result = _insert(
        "INSERT INTO media_analysis_results (request_id, result_text, model_used) VALUES (%s, 't', 'm')",
        [request_id],
    )
    assert result["metadata"] == {}
    assert result["created_at"] is not None
    media_file = _insert(
        "INSERT INTO media_files (request_id, filename, storage_path) VALUES (%s, 'original.mp4', '/s/x')",
        [request_id],
    )
    assert media_file["retention_days"] == 30
    assert media_file["uploaded_at"] is not None
    sheet = _insert(
        "INSERT INTO contact_sheets (request_id, storage_path, frames_count) VALUES (%s, '/s/c.jpg', 6)",
        [request_id],
    )
    assert (sheet["grid_layout"], sheet["resolution"]) == ("2x3", "1920x1080")
    assert sheet["metadata"] == {}
    audit = _insert(
        "INSERT INTO audit_log (table_name, record_id, action) VALUES ('media_files', %s, 'INSERT')",
        [media_file["id"]],
    )
    assert isinstance(audit["id"], uuid.UUID)
    assert audit["created_at"] is not None


def test_database_cascades_and_nulls_on_request_delete():
    request = AnalysisRequest.objects.create(media_url="u", prompt="p")
    AnalysisResult.objects.create(request=request, result_text="t", model_used="m")
    ContactSheet.objects.create(request=request, storage_path="/s/c.jpg", frames_count=6)
    media_file = MediaFile.objects.create(
        request=request, filename="original.mp4", storage_path="/s/x"
    )
    with connection.cursor() as cursor:  # plain SQL: Django's collector plays no part
        cursor.execute("DELETE FROM media_analysis_requests WHERE id = %s", [request.id])
    assert not AnalysisResult.objects.filter(request_id=request.id).exists()
    assert not ContactSheet.objects.filter(request_id=request.id).exists()
    media_file.refresh_from_db()
    assert media_file.request_id is None


def test_foreign_keys_refuse_orphans():
    with pytest.raises(IntegrityError), transaction.atomic():
        AnalysisResult.objects.create(request_id=uuid.uuid4(), result_text="t", model_used="m")


@pytest.mark.parametrize("retry_count", [-1, 11])
def test_retry_count_check_constraint(retry_count):
    with pytest.raises(IntegrityError, match="chk_retry_count"), transaction.atomic():
        AnalysisRequest.objects.create(media_url="u", prompt="p", retry_count=retry_count)


def test_token_check_constraint():
    request = AnalysisRequest.objects.create(media_url="u", prompt="p")
    with pytest.raises(IntegrityError, match="chk_tokens"), transaction.atomic():
        AnalysisResult.objects.create(
            request=request, result_text="t", model_used="m", input_tokens=-5
        )


def test_enum_columns_refuse_unknown_values_in_the_database():
    with pytest.raises(Exception, match="invalid input value for enum"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO media_analysis_requests (media_url, prompt, status) VALUES ('u','p','done')"
            )


def test_enum_filters_and_bulk_updates_work_through_the_orm():
    first = AnalysisRequest.objects.create(media_url="u", prompt="p")
    AnalysisRequest.objects.create(media_url="u", prompt="p", status="failed")
    assert AnalysisRequest.objects.filter(status__in=["pending", "failed"]).count() == 2
    with status_writes_allowed():  # only analysis.transitions opens this in the product
        AnalysisRequest.objects.filter(pk=first.pk).update(status="processing")
    first.refresh_from_db()
    assert first.status == "processing"


def test_audit_action_is_free_text_as_in_the_plan():
    entry = AuditLogEntry.objects.create(table_name="t", record_id=uuid.uuid4(), action="UPDATE")
    entry.refresh_from_db()
    assert entry.created_at is not None

"""django-auditlog writes the plan's audit_log rows: one per change to a tracked
record, with old and new values, and rows that cannot be changed afterwards."""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models.functions import Now

from analysis import services
from analysis.models import AnalysisStatus
from audit.models import AuditLogEntry, AuditLogImmutableError
from media_analysis.context import acting_as
from tests.audit.conftest import make_children, make_request

pytestmark = pytest.mark.django_db


def entries_for(record) -> list[AuditLogEntry]:
    return list(AuditLogEntry.objects.get_for_object(record).order_by("created_at"))


def test_a_new_request_gets_an_insert_entry_with_its_values():
    request = make_request()
    (entry,) = entries_for(request)
    assert entry.table_name == "media_analysis_requests"
    assert entry.record_id == request.id
    assert entry.action == "INSERT"
    assert entry.old_values is None
    assert entry.new_values["prompt"] == "Describe it"
    assert entry.new_values["status"] == "pending"
    assert entry.new_values["id"] == str(request.id)
    assert entry.parent_record_id is None
    assert entry.created_at is not None


def test_an_update_records_only_the_changed_fields_old_and_new():
    request = make_request(status=AnalysisStatus.FAILED)
    services.retry_request(request.id)
    update = entries_for(request)[-1]
    assert update.action == "UPDATE"
    assert update.old_values["status"] == "failed"
    assert update.new_values["status"] == "pending"
    assert update.old_values["retry_count"] == 0
    assert update.new_values["retry_count"] == 1
    assert "prompt" not in update.new_values


def test_a_value_set_by_the_database_is_recorded_as_the_value_not_the_expression():
    request = make_request()
    services.cancel_request(request.id)
    update = entries_for(request)[-1]
    request.refresh_from_db()
    assert update.new_values["status"] == "cancelled"
    completed = update.new_values["completed_at"]
    assert completed != "Now()"
    assert completed.startswith(request.completed_at.strftime("%Y-%m-%d %H:%M:%S"))
    assert update.old_values["completed_at"] is None


def test_a_failed_save_does_not_leave_an_entry_for_the_next_save():
    request = make_request()
    request.completed_at = Now()
    request.retry_count = 99  # violates chk_retry_count: the save fails
    with pytest.raises(DatabaseError), transaction.atomic():
        request.save()
    # The same instance, saved again: only the prompt this time.
    request.retry_count = 0
    request.prompt = "Another prompt"
    request.save(update_fields=["prompt"])
    updates = [e for e in entries_for(request) if e.action == "UPDATE"]
    assert len(updates) == 1
    assert set(updates[0].new_values) == {"prompt"}


def test_children_point_at_their_request_and_deletes_keep_the_old_values():
    request = make_request()
    result, media, sheet = make_children(request)
    sheet_id = sheet.id
    sheet.delete()
    for child in (result, media):
        (insert,) = entries_for(child)
        assert insert.parent_record_id == request.id
        assert insert.new_values["request"] == str(request.id)
    delete = AuditLogEntry.objects.get(record_id=sheet_id, action="DELETE")
    assert delete.table_name == "contact_sheets"
    assert delete.parent_record_id == request.id
    assert delete.new_values is None
    assert delete.old_values["frames_count"] == 6


def test_queryset_delete_is_recorded_row_by_row():
    request = make_request()
    make_children(request)
    make_children(request)
    request.results.all().delete()
    assert (
        AuditLogEntry.objects.filter(table_name="media_analysis_results", action="DELETE").count()
        == 2
    )


def test_system_actor_and_correlation_id_come_from_the_context():
    cid = uuid.uuid4()
    with acting_as("system:test", correlation_id=cid):
        request = make_request()
    (entry,) = entries_for(request)
    assert entry.performed_by == "system:test"
    assert entry.correlation_id == cid
    assert entry.ip_address is None


# ------------------------------------------------------------ immutability
def test_an_entry_cannot_be_saved_again_or_deleted_through_the_model():
    entry = entries_for(make_request())[0]
    entry.performed_by = "someone else"
    with pytest.raises(AuditLogImmutableError):
        entry.save()
    with pytest.raises(AuditLogImmutableError):
        entry.delete()
    with pytest.raises(AuditLogImmutableError):
        AuditLogEntry.objects.filter(pk=entry.pk).update(performed_by="x")
    with pytest.raises(AuditLogImmutableError):
        AuditLogEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(AuditLogImmutableError):
        AuditLogEntry.objects.bulk_update([entry], ["performed_by"])
    assert AuditLogEntry.objects.get(pk=entry.pk).performed_by is None


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET performed_by = 'x' WHERE id = %s",
        "DELETE FROM audit_log WHERE id = %s",
    ],
)
def test_the_database_refuses_changes_by_plain_sql(statement):
    entry = entries_for(make_request())[0]
    with pytest.raises(DatabaseError, match="cannot be changed or deleted"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(statement, [entry.pk])
    assert AuditLogEntry.objects.filter(pk=entry.pk, performed_by__isnull=True).exists()


def test_another_service_can_insert_the_plan_columns_by_plain_sql():
    record = uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_log (table_name, record_id, action, new_values, performed_by,"
            " ip_address) VALUES ('media_files', %s, 'INSERT', '{\"a\": 1}', 'other-service',"
            " '10.0.0.1') RETURNING id, created_at",
            [record],
        )
        entry_id, created_at = cursor.fetchone()
    entry = AuditLogEntry.objects.get(pk=entry_id)
    assert entry.record_id == record
    assert entry.created_at == created_at is not None
    assert entry.changes == {"a": [None, 1]}

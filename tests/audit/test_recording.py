"""Bulk updates, which send no signal, are audited by ``audited_update``."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db.models import F
from django.db.models.expressions import RawSQL
from django.db.models.functions import Now

from analysis.models import AnalysisRequest
from audit.models import AuditLogEntry
from audit.recording import audited_update
from media_analysis.context import acting_as
from storage_app.models import ContactSheet, MediaFile
from tests.audit.conftest import make_children, make_request

pytestmark = pytest.mark.django_db


def updates(table: str) -> list[AuditLogEntry]:
    return list(AuditLogEntry.objects.filter(table_name=table, action="UPDATE"))


def test_one_entry_per_row_with_old_and_new_values_and_the_same_count():
    requests = [make_request(retry_count=n) for n in range(3)]
    with acting_as("system:bulk"):
        count = audited_update(
            AnalysisRequest.objects.filter(pk__in=[r.pk for r in requests[:2]]),
            retry_count=F("retry_count") + 5,
        )
    assert count == 2
    entries = {e.record_id: e for e in updates("media_analysis_requests")}
    assert set(entries) == {requests[0].pk, requests[1].pk}
    assert entries[requests[1].pk].old_values == {"retry_count": 1}
    assert entries[requests[1].pk].new_values == {"retry_count": 6}
    assert {e.performed_by for e in entries.values()} == {"system:bulk"}


def test_the_actor_argument_wins_and_children_point_at_their_request():
    request = make_request()
    _, media, _ = make_children(request)
    audited_update(MediaFile.objects.filter(pk=media.pk), actor="system:cleanup", deleted_at=Now())
    (entry,) = updates("media_files")
    media.refresh_from_db()
    assert entry.performed_by == "system:cleanup"
    assert entry.parent_record_id == request.pk
    assert entry.old_values == {"deleted_at": None}
    assert entry.new_values["deleted_at"].startswith(media.deleted_at.strftime("%Y-%m-%d %H:%M"))


def test_a_raw_sql_value_is_recorded_as_what_it_produced():
    request = make_request()
    *_, sheet = make_children(request)
    audited_update(
        ContactSheet.objects.filter(pk=sheet.pk),
        metadata=RawSQL("COALESCE(metadata, '{}'::jsonb) || %s::jsonb", ('{"deleted_by": "x"}',)),
    )
    (entry,) = updates("contact_sheets")
    assert entry.old_values == {"metadata": {}}
    assert entry.new_values == {"metadata": {"deleted_by": "x"}}


def test_rows_left_unchanged_get_no_entry_and_nothing_matching_writes_nothing():
    request = make_request(retry_count=2)
    assert audited_update(AnalysisRequest.objects.filter(pk=request.pk), retry_count=2) == 1
    assert audited_update(AnalysisRequest.objects.filter(prompt="nothing"), retry_count=3) == 0
    assert updates("media_analysis_requests") == []


def test_an_untracked_model_is_updated_without_entries():
    user = User.objects.create_user("erin")
    assert audited_update(User.objects.filter(pk=user.pk), first_name="Erin") == 1
    assert User.objects.get(pk=user.pk).first_name == "Erin"
    assert AuditLogEntry.objects.filter(table_name="auth_user").count() == 0

"""Audit entries leave only by age, through prune_audit_log (or its beat task)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.models import AuditLogEntry
from audit.tasks import prune_audit_log
from tests.audit.conftest import make_request

pytestmark = pytest.mark.django_db


def age_entries(days: int, ids) -> None:
    """Back-date entries as a plain SQL insert of old rows would (the trigger forbids
    UPDATE, so copy them in with an old timestamp)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_log (table_name, record_id, action, created_at)"
            " SELECT table_name, record_id, 'UPDATE', %s FROM audit_log WHERE id = ANY(%s)",
            [timezone.now() - timedelta(days=days), list(ids)],
        )


@pytest.fixture
def old_and_new():
    request = make_request()
    recent = list(AuditLogEntry.objects.values_list("pk", flat=True))
    age_entries(400, recent)
    age_entries(100, recent)
    return request


def counts() -> list[int]:
    now = timezone.now()
    return [
        AuditLogEntry.objects.filter(created_at__lt=now - timedelta(days=300)).count(),
        AuditLogEntry.objects.filter(
            created_at__gte=now - timedelta(days=300), created_at__lt=now - timedelta(days=30)
        ).count(),
        AuditLogEntry.objects.filter(created_at__gte=now - timedelta(days=30)).count(),
    ]


def test_the_command_deletes_only_entries_older_than_the_given_days(old_and_new, capsys):
    assert counts() == [1, 1, 1]
    call_command("prune_audit_log", "--older-than", "365", "--batch-size", "1")
    assert counts() == [0, 1, 1]
    assert "deleted 1 audit log entries older than 365 days" in capsys.readouterr().out
    call_command("prune_audit_log", "--older-than", "30")
    assert counts() == [0, 0, 1]


def test_the_command_defaults_to_the_retention_setting_and_refuses_nonsense(old_and_new, settings):
    settings.AUDIT_RETENTION_DAYS = 0
    with pytest.raises(CommandError, match="keep forever"):
        call_command("prune_audit_log")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("prune_audit_log", "--older-than", "0")
    settings.AUDIT_RETENTION_DAYS = 200
    call_command("prune_audit_log")
    assert counts() == [0, 1, 1]


def test_the_beat_task_follows_the_retention_setting(old_and_new, settings):
    settings.AUDIT_RETENTION_DAYS = 0
    assert prune_audit_log.apply().get() == 0
    assert counts() == [1, 1, 1]
    settings.AUDIT_RETENTION_DAYS = 50
    assert prune_audit_log.apply().get() == 2
    assert counts() == [0, 0, 1]


def test_auditlogs_own_flush_command_is_disabled(old_and_new):
    for arguments in ([], ["--yes"], ["--yes", "--truncate"]):
        with pytest.raises(CommandError, match="prune_audit_log"):
            call_command("auditlogflush", *arguments)
    assert counts() == [1, 1, 1]


def test_the_prune_permission_ends_with_its_transaction(old_and_new):
    call_command("prune_audit_log", "--older-than", "365")
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('audit.allow_prune', true)")
        assert cursor.fetchone()[0] in (None, "", "off")
    # Still inside the test's transaction: a plain DELETE is refused again.
    with pytest.raises(DatabaseError, match="cannot be changed"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_log")

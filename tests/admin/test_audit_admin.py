"""The audit log in the admin: browsable and searchable by staff, and not
changeable by anyone, superusers included."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from analysis import services
from analysis.models import AnalysisStatus
from audit.models import AuditLogEntry
from media_analysis.context import acting_as
from tests.admin.conftest import make_full_request

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:audit_auditlogentry_changelist")


def listed(response) -> list[AuditLogEntry]:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


@pytest.fixture
def trail():
    cid = uuid.uuid4()
    with acting_as("system:pipeline", correlation_id=cid):
        request = make_full_request(status=AnalysisStatus.FAILED)
    with acting_as("ursula"):
        services.retry_request(request.pk)
    return request, cid


def test_filters_by_table_action_actor_and_date(staff_client, trail):
    request, _ = trail
    assert {
        e.table_name for e in listed(staff_client.get(CHANGELIST, {"table": "media_files"}))
    } == {"media_files"}
    (update,) = listed(staff_client.get(CHANGELIST, {"action__exact": "UPDATE"}))
    assert update.record_id == request.pk
    assert [e.performed_by for e in listed(staff_client.get(CHANGELIST, {"actor": "ursula"}))] == [
        "ursula"
    ]
    actor_choices = staff_client.get(CHANGELIST).context["cl"].filter_specs[2].lookup_choices
    assert [value for value, _ in actor_choices] == ["system:pipeline", "ursula"]
    assert (
        len(listed(staff_client.get(CHANGELIST, {"created_at__gte": "2000-01-01 00:00:00+00:00"})))
        == 5
    )
    assert (
        listed(staff_client.get(CHANGELIST, {"created_at__lt": "2000-01-01 00:00:00+00:00"})) == []
    )


def test_search_by_record_id_request_id_correlation_id_and_actor(staff_client, trail):
    request, cid = trail
    result = request.results.get()
    assert {e.record_id for e in listed(staff_client.get(CHANGELIST, {"q": str(result.pk)}))} == {
        result.pk
    }
    # A request id finds its whole trail: its own entries and its children's.
    assert len(listed(staff_client.get(CHANGELIST, {"q": str(request.pk)}))) == 5
    assert len(listed(staff_client.get(CHANGELIST, {"q": str(cid)}))) == 4
    assert len(listed(staff_client.get(CHANGELIST, {"q": "ursula"}))) == 1


def test_an_entry_page_shows_old_and_new_values(staff_client, trail):
    request, _ = trail
    entry = AuditLogEntry.objects.get(record_id=request.pk, action="UPDATE")
    body = staff_client.get(
        reverse("admin:audit_auditlogentry_change", args=[entry.pk])
    ).content.decode()
    assert "&quot;status&quot;: &quot;failed&quot;" in body
    assert "&quot;status&quot;: &quot;pending&quot;" in body


def test_not_even_a_superuser_can_add_change_or_delete_entries(superuser_client, trail):
    entry = AuditLogEntry.objects.filter(action="UPDATE").get()
    change = reverse("admin:audit_auditlogentry_change", args=[entry.pk])
    delete = reverse("admin:audit_auditlogentry_delete", args=[entry.pk])
    assert superuser_client.get(reverse("admin:audit_auditlogentry_add")).status_code == 403
    page = superuser_client.get(change)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert superuser_client.post(change, {"performed_by": "mallory"}).status_code == 403
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403
    response = superuser_client.post(
        CHANGELIST, {"action": "delete_selected", "index": 0, "_selected_action": [str(entry.pk)]}
    )
    assert response.status_code in (200, 302)
    assert 'name="action"' not in superuser_client.get(CHANGELIST).content.decode()
    fresh = AuditLogEntry.objects.get(pk=entry.pk)
    assert fresh.performed_by == "ursula"
    assert AuditLogEntry.objects.count() == 5

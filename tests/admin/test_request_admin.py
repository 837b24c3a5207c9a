"""The request pages of the staff console: staff only, filters and search, the
request page with its inlines and contact sheet image, and the actions, which go
through the services (and so are audited with the staff member and address)."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from analysis.models import AnalysisRequest, AnalysisStatus
from audit.models import AuditLogEntry
from tests.admin.conftest import jpeg_bytes, make_full_request

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:analysis_analysisrequest_changelist")


def change_url(request) -> str:
    return reverse("admin:analysis_analysisrequest_change", args=[request.pk])


def listed_ids(response) -> set[str]:
    return {str(obj.pk) for obj in response.context["cl"].result_list}


# ------------------------------------------------------------------ access
@pytest.mark.parametrize(
    "url",
    [
        CHANGELIST,
        reverse("admin-dashboard"),
        reverse("admin:audit_auditlogentry_changelist"),
        "/admin/storage_app/contactsheet/00000000-0000-0000-0000-000000000001/image/",
    ],
)
def test_people_who_are_not_staff_are_sent_to_the_login_page(outsider_client, client, url):
    for each in (outsider_client, client.__class__()):
        response = each.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


# ---------------------------------------------------------------- the list
def test_the_list_shows_status_colour_latency_and_cost(staff_client):
    make_full_request(status=AnalysisStatus.FAILED, latency_ms=450)
    response = staff_client.get(CHANGELIST)
    assert response.status_code == 200
    body = response.content.decode()
    assert '<span class="status-badge status-failed">Failed</span>' in body
    assert "450 ms" in body
    assert "0.001500" in body
    assert "1 analysis request" in body


def test_filters_by_status_media_type_provider_model_and_date(staff_client):
    failed = make_full_request(status=AnalysisStatus.FAILED)
    audio = make_full_request(media_type="audio", provider="openai", model_used="gpt-4o-mini")
    old = make_full_request()
    AnalysisRequest.objects.filter(pk=old.pk).update(created_at="2024-03-05T10:00:00Z")
    assert listed_ids(staff_client.get(CHANGELIST, {"status__exact": "failed"})) == {str(failed.pk)}
    assert listed_ids(staff_client.get(CHANGELIST, {"media_type__exact": "audio"})) == {
        str(audio.pk)
    }
    assert listed_ids(staff_client.get(CHANGELIST, {"provider": "openai"})) == {str(audio.pk)}
    assert listed_ids(staff_client.get(CHANGELIST, {"model": "gpt-4o-mini"})) == {str(audio.pk)}
    assert listed_ids(staff_client.get(CHANGELIST, {"created_at__year": "2024"})) == {str(old.pk)}
    page = staff_client.get(CHANGELIST)
    model_choices = page.context["cl"].filter_specs[3].lookup_choices
    assert ("gpt-4o-mini", "gpt-4o-mini") in model_choices


def test_the_date_hierarchy_offers_the_years_between_first_and_last(staff_client):
    make_full_request()
    old = make_full_request()
    AnalysisRequest.objects.filter(pk=old.pk).update(created_at="2024-03-05T10:00:00Z")
    body = staff_client.get(CHANGELIST).content.decode()
    this_year = timezone.now().year
    assert "created_at__year=2024" in body and f"created_at__year={this_year}" in body
    # Years between the first and the last row are offered without counting them.
    assert "created_at__year=2023" not in body
    body = staff_client.get(CHANGELIST, {"created_at__year": "2024"}).content.decode()
    assert "created_at__month=3" in body and "created_at__month=4" not in body
    body = staff_client.get(
        CHANGELIST, {"created_at__year": "2024", "created_at__month": "3"}
    ).content.decode()
    assert "created_at__day=5" in body and "created_at__day=6" not in body


def test_search_by_id_correlation_id_prompt_and_filename(staff_client):
    first = make_full_request(prompt="Count the zebras", original_filename="safari.mp4")
    second = make_full_request()
    for term, expected in [
        (str(first.pk), first),
        (str(second.correlation_id), second),
        ("zebras", first),
        ("safari", first),
    ]:
        assert listed_ids(staff_client.get(CHANGELIST, {"q": term})) == {str(expected.pk)}, term


# ------------------------------------------------------------ the page
def test_the_request_page_shows_inlines_and_the_contact_sheet_image(staff_client, storage_root):
    request = make_full_request(storage_root)
    sheet = request.contact_sheets.get()
    response = staff_client.get(change_url(request))
    assert response.status_code == 200
    body = response.content.decode()
    image_url = reverse("admin:storage_app_contactsheet_image", args=[sheet.pk])
    assert f'<img src="{image_url}"' in body
    assert "A red square." in body  # the result inline
    assert f"uploads/2026-01-01/{request.pk}/clip.mp4" in body  # the file inline
    assert 'name="_save"' not in body  # view-only: changes go through the actions
    assert 'value="retry_selected"' in body
    image = staff_client.get(image_url)
    assert image.status_code == 200
    assert image["Content-Type"] == "image/jpeg"
    assert b"".join(image.streaming_content) == jpeg_bytes()


def test_the_image_of_a_missing_file_or_sheet_is_not_found(staff_client, storage_root):
    request = make_full_request(None)
    sheet = request.contact_sheets.get()
    url = reverse("admin:storage_app_contactsheet_image", args=[sheet.pk])
    assert staff_client.get(url).status_code == 404
    sheet.delete()
    assert staff_client.get(url).status_code == 404


def test_staff_without_the_view_permission_get_no_image(client, django_user_model, storage_root):
    request = make_full_request(storage_root)
    user = django_user_model.objects.create_user("nosy", is_staff=True)
    client.force_login(user)
    url = reverse("admin:storage_app_contactsheet_image", args=[request.contact_sheets.get().pk])
    assert client.get(url).status_code == 403


def test_requests_are_not_added_edited_or_deleted_in_the_admin(staff_client):
    request = make_full_request()
    assert staff_client.get(reverse("admin:analysis_analysisrequest_add")).status_code == 403
    assert staff_client.post(change_url(request), {"prompt": "changed"}).status_code == 403
    delete = reverse("admin:analysis_analysisrequest_delete", args=[request.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    request.refresh_from_db()
    assert request.prompt == "Describe the clip"


# ----------------------------------------------------------------- actions
def run_action(client, action: str, *requests, **extra):
    return client.post(
        CHANGELIST,
        {"action": action, "index": 0, "_selected_action": [str(r.pk) for r in requests]},
        REMOTE_ADDR="192.0.2.44",
        **extra,
    )


def test_retry_goes_through_the_service_and_is_audited_with_the_staff_member(staff_client):
    failed = make_full_request(status=AnalysisStatus.FAILED)
    response = run_action(staff_client, "retry_selected", failed)
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == AnalysisStatus.PENDING
    assert failed.retry_count == 1
    entry = AuditLogEntry.objects.get(record_id=failed.pk, action="UPDATE")
    assert entry.performed_by == "stella"
    assert entry.ip_address == "192.0.2.44"
    assert entry.old_values["status"] == "failed"
    assert entry.new_values["status"] == "pending"


def test_a_refusal_by_the_service_is_shown_and_the_others_still_run(staff_client):
    failed = make_full_request(status=AnalysisStatus.FAILED)
    completed = make_full_request(status=AnalysisStatus.COMPLETED)
    response = run_action(staff_client, "retry_selected", failed, completed)
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert "1 request(s) queued again." in messages
    assert any(str(completed.pk) in m and "Only failed or cancelled" in m for m in messages)
    completed.refresh_from_db()
    assert completed.status == AnalysisStatus.COMPLETED


def test_cancel_soft_delete_and_restore(staff_client):
    request = make_full_request(status=AnalysisStatus.PENDING)
    run_action(staff_client, "cancel_selected", request)
    request.refresh_from_db()
    assert request.status == AnalysisStatus.CANCELLED
    run_action(staff_client, "soft_delete_selected", request)
    request.refresh_from_db()
    assert request.status == AnalysisStatus.DELETED and request.deleted_at is not None
    run_action(staff_client, "restore_selected", request)
    request.refresh_from_db()
    assert request.status == AnalysisStatus.CANCELLED and request.deleted_at is None
    statuses = [
        e.new_values["status"]
        for e in AuditLogEntry.objects.filter(record_id=request.pk, action="UPDATE").order_by(
            "created_at"
        )
    ]
    assert statuses == ["cancelled", "deleted", "cancelled"]
    assert set(
        AuditLogEntry.objects.filter(record_id=request.pk, action="UPDATE").values_list(
            "performed_by", flat=True
        )
    ) == {"stella"}


def test_staff_who_may_only_view_get_no_actions(client, django_user_model):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("vic", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_analysisrequest"))
    client.force_login(viewer)
    failed = make_full_request(status=AnalysisStatus.FAILED)
    assert 'value="retry_selected"' not in client.get(change_url(failed)).content.decode()
    run_action(client, "retry_selected", failed)
    failed.refresh_from_db()
    assert failed.status == AnalysisStatus.FAILED

"""The staff console in a real browser: Debian's headless Chromium (package
``chromium``), driven by Playwright against a live server. Staff log in, filter
the history, open a request and see its contact sheet, retry it (from the
request page and from the list's action menu) and open the dashboard; someone
who is not staff is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connections

from analysis.models import AnalysisRequest, AnalysisStatus
from audit.models import AuditLogEntry
from tests.admin.conftest import PASSWORD, make_full_request

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser(monkeypatch):
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium package "
            "(apt-get install -y chromium). The browser test never downloads a browser."
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own
    # database reads between browser steps are ordinary synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_load_state()


def test_staff_console_in_chromium(browser, live_server, staff, django_user_model, storage_root):
    django_user_model.objects.create_user("olga", password=PASSWORD)  # not staff
    failed = make_full_request(storage_root, status=AnalysisStatus.FAILED, prompt="Find the fox")
    other_failed = make_full_request(storage_root, status=AnalysisStatus.FAILED)
    make_full_request(storage_root, status=AnalysisStatus.COMPLETED)
    base = live_server.url

    # Someone who is not staff cannot get in.
    outsider = browser.new_page()
    log_in(outsider, base, "olga")
    assert "/admin/login/" in outsider.url
    assert "staff account" in outsider.content()
    outsider.goto(f"{base}/admin/dashboard/")
    assert "/admin/login/" in outsider.url
    outsider.close()

    page = browser.new_page()
    log_in(page, base, staff.username)
    assert page.url.rstrip("/").endswith("/admin")

    # History, filtered to failed requests by the sidebar filter.
    page.goto(f"{base}/admin/analysis/analysisrequest/")
    assert page.locator("#result_list tbody tr").count() == 3
    page.locator("#changelist-filter a", has_text="Failed").first.click()
    page.wait_for_load_state()
    assert "status__exact=failed" in page.url
    assert page.locator("#result_list tbody tr").count() == 2
    assert page.locator("#result_list .status-badge.status-failed").count() == 2

    # Search by prompt words, then open the request.
    page.fill("#searchbar", "fox")
    page.press("#searchbar", "Enter")
    page.wait_for_load_state()
    assert page.locator("#result_list tbody tr").count() == 1
    page.locator("#result_list tbody tr th a").first.click()
    page.wait_for_load_state()
    assert str(failed.pk) in page.content()

    # The contact sheet is shown as an image that actually loaded.
    image = page.locator(".contact-sheet-preview img").first
    image.wait_for()
    assert page.evaluate("img => img.complete && img.naturalWidth > 0", image.element_handle()), (
        "the contact sheet image did not load"
    )

    # Retry from the request page: the service runs, the list says so.
    page.click("#request-actions button[value=retry_selected]")
    page.wait_for_load_state()
    assert "1 request(s) queued again." in page.locator("ul.messagelist").inner_text()

    # Retry the other one through the list's action menu.
    page.goto(f"{base}/admin/analysis/analysisrequest/?status__exact=failed")
    page.check(f'input.action-select[value="{other_failed.pk}"]')
    page.select_option("select[name=action]", "retry_selected")
    page.click("button[name=index]")
    page.wait_for_load_state()
    assert "1 request(s) queued again." in page.locator("ul.messagelist").inner_text()

    # The dashboard draws its charts.
    page.goto(f"{base}/admin/dashboard/")
    assert page.locator("#requests-per-day svg rect.bar").count() > 0
    assert page.locator("#disk svg .gauge-value").count() == 1
    assert page.locator("#breakers .breaker").count() >= 1
    page.close()

    for request in (failed, other_failed):
        request.refresh_from_db()
        assert request.status == AnalysisStatus.PENDING
        entry = AuditLogEntry.objects.get(record_id=request.pk, action="UPDATE")
        assert entry.performed_by == staff.username
        assert entry.ip_address == "127.0.0.1"
    assert AnalysisRequest.objects.filter(status=AnalysisStatus.FAILED).count() == 0
    # Database work done while Playwright's loop runs has a connection of its own
    # (asgiref's context-local storage): hand it back here, in that context.
    connections.close_all()

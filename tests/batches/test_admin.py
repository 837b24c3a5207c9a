"""Staff see batches in the console: the list, and a batch's items with their
states and links; a batch.completed delivery links to its batch."""

from __future__ import annotations

import pytest

from analysis.webhooks.models import WebhookDelivery
from tests.batches.test_settle import end, submit
from tests.webhooks.conftest import drain

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="x-long-1"))
    return client


def test_a_batch_and_its_items_are_shown(alice, admin_client, allow_loopback, receiver):
    alice.client.post(
        "/api/webhooks", {"url": receiver.url, "events": ["batch.completed"]}, format="json"
    )
    accepted = submit(alice, 2)
    first, second = accepted["item_ids"]
    end(first, "completed")
    end(second, "failed")

    listing = admin_client.get("/admin/analysis/analysisbatch/")
    assert listing.status_code == 200 and accepted["id"] in listing.content.decode()
    page = admin_client.get(f"/admin/analysis/analysisbatch/{accepted['id']}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert f"/admin/analysis/analysisrequest/{first}/change/" in html
    assert "completed: 1, failed: 1" in html

    notice = drain(WebhookDelivery.objects.get(batch_id=accepted["id"]).pk)
    deliveries = admin_client.get("/admin/analysis/webhookdelivery/").content.decode()
    assert f"batch {accepted['id'][:8]}" in deliveries
    assert (
        admin_client.get(f"/admin/analysis/webhookdelivery/{notice.pk}/change/").status_code == 200
    )

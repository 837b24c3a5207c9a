"""Fixtures for the webhook tests: real PostgreSQL, Redis and HTTP. The receiver
listens on 127.0.0.1, let through by the setting the media URL tests use
(MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS); retries wait a few hundredths of a second."""

from __future__ import annotations

import time

import pytest
from cryptography.fernet import Fernet
from django.db import transaction
from django_redis import get_redis_connection

from analysis import transitions
from analysis.models import AnalysisRequest, AnalysisStatus
from analysis.webhooks import delivery
from analysis.webhooks.models import DeliveryStatus, WebhookDelivery
from tests.api.conftest import alice, bob, make_request, staff  # noqa: F401 (fixtures)
from tests.webhooks.receiver import start_receiver

KEY = Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def webhook_settings(settings, storage_root):
    get_redis_connection("default").flushdb()
    settings.WEBHOOK_ENCRYPTION_KEY = [KEY]
    settings.WEBHOOK_RETRY_DELAYS = [0.05]
    settings.WEBHOOK_TIMEOUT_SECONDS = 3.0
    return settings


@pytest.fixture
def allow_loopback(settings):
    settings.MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS = True


@pytest.fixture
def admin_client(client, django_user_model):
    """A signed-in superuser's browser on the staff console."""
    client.force_login(
        django_user_model.objects.create_superuser("root", password="a-long-test-password-1")
    )
    return client


@pytest.fixture
def receiver():
    server = start_receiver()
    yield server
    server.stop()


def end_request(request: AnalysisRequest, state: str = AnalysisStatus.COMPLETED) -> None:
    """Move ``request`` (processing or pending) to ``state`` through the one door."""
    with transaction.atomic():
        locked = AnalysisRequest.objects.select_for_update().get(pk=request.pk)
        transitions.move(locked, state, reason="test")


def processing_request(owner) -> AnalysisRequest:
    return make_request(owner, status=AnalysisStatus.PROCESSING)


def drain(delivery_id, *, timeout: float = 10.0) -> WebhookDelivery:
    """Attempt ``delivery_id`` in this process whenever it is due, until it is no
    longer pending (the worker's job, without a worker)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = WebhookDelivery.objects.get(pk=delivery_id)
        if row.status != DeliveryStatus.PENDING:
            return row
        delivery.attempt(delivery_id)
        time.sleep(0.06)
    raise AssertionError("the delivery stayed pending")

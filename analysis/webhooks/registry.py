"""The rules of webhook targets, and the functions every door (API, admin,
submission) calls to register, list, remove and sign.

A target URL follows the media URL rule (``analysis.ingest.url_guard``): http(s),
no credentials, and every address its host resolves to public unless
MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS. It is checked here, at registration, and
again before every attempt against the address the attempt connects to
(``analysis.webhooks.http``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from analysis.ingest.errors import IngestError
from analysis.ingest.url_guard import AddressPolicy, resolve_public_addresses, validate_url
from analysis.webhooks import signing, vault
from analysis.webhooks.models import (
    CallbackSecret,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    default_events,
)
from media_analysis.errors import InvalidRequest, RequestNotFound, StateConflict

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewEndpoint:
    """An endpoint just registered, with its secret: the one time it is shown."""

    endpoint: WebhookEndpoint
    secret: str


@dataclass(frozen=True)
class IssuedSecret:
    secret: str
    created_at: Any


@dataclass(frozen=True)
class EndpointChanges:
    """What ``PATCH /api/webhooks/{id}`` asked to change; None leaves a field as it is.
    The secret is not among them: ``rotate_endpoint_secret`` replaces it."""

    url: Any = None
    events: Any = None
    description: str | None = None
    enabled: bool | None = None


def validate_target_url(url: Any, *, field: str) -> str:
    """The media URL rule for a webhook target; InvalidRequest (400) naming ``field``."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidRequest(f"{field}_required", f"{field} must be an http(s) URL.", field=field)
    try:
        target = validate_url(url.strip())
        resolve_public_addresses(target.host, target.port, policy=AddressPolicy.from_settings())
    except IngestError as exc:
        raise InvalidRequest(str(exc.code), exc.message, field=field) from None
    return url.strip()


def validate_callback_url(url: Any) -> str | None:
    if url in (None, ""):
        return None
    checked = validate_target_url(url, field="callback_url")
    vault.require_key()  # nothing could be signed: refuse now, not at delivery
    return checked


def validate_events(events: Any) -> list[str]:
    if events is None:
        return default_events()
    if not isinstance(events, list | tuple) or not events:
        raise InvalidRequest("invalid_events", "events must be a non-empty list.", field="events")
    unknown = [str(event)[:40] for event in events if event not in WebhookEvent.values]
    if unknown:
        raise InvalidRequest(
            "invalid_events",
            f"Unknown event(s) {', '.join(unknown)}; known: {', '.join(WebhookEvent.values)}.",
            field="events",
        )
    return list(dict.fromkeys(events))  # in order, once each


def register_endpoint(owner, *, url: Any, events: Any = None, description: str = "") -> NewEndpoint:
    url = validate_target_url(url, field="url")
    events = validate_events(events)
    secret = signing.generate_secret()
    encrypted = vault.encrypt(secret)
    with transaction.atomic():
        # Counted under the owner's row lock: two registrations cannot both pass the cap.
        type(owner).objects.select_for_update().filter(pk=owner.pk).first()
        limit = settings.WEBHOOK_MAX_ENDPOINTS_PER_USER
        if WebhookEndpoint.objects.filter(owner=owner).count() >= limit:
            raise StateConflict(
                "too_many_webhooks", f"At most {limit} webhook endpoints per user; delete one."
            )
        endpoint = WebhookEndpoint.objects.create(
            owner=owner,
            url=url,
            events=events,
            description=(description or "")[:200],
            secret_encrypted=encrypted,
        )
    return NewEndpoint(endpoint, secret)


def visible_endpoints(user) -> Any:
    """Owner-scoped, like requests: staff see every endpoint."""
    queryset = WebhookEndpoint.objects.order_by("-created_at", "id")
    return queryset if user.is_staff else queryset.filter(owner_id=user.pk)


def endpoint_for(user, endpoint_id: Any, *, lock: bool = False) -> WebhookEndpoint:
    """One endpoint ``user`` may see; 400 for a malformed id, 404 for another's.
    ``lock``: its row locked until the caller's transaction ends."""
    try:
        endpoint_id = uuid.UUID(str(endpoint_id))
    except ValueError:
        raise InvalidRequest("invalid_id", "The webhook id must be a UUID.", field="id") from None
    queryset = visible_endpoints(user).filter(pk=endpoint_id)
    endpoint = (queryset.select_for_update() if lock else queryset).first()
    if endpoint is None:
        raise RequestNotFound("not_found", "No such webhook endpoint.")
    return endpoint


def delete_endpoint(user, endpoint_id: Any) -> None:
    """Its pending deliveries are cancelled; the records of past ones stay."""
    with transaction.atomic():
        endpoint = endpoint_for(user, endpoint_id)
        endpoint.deliveries.filter(status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.CANCELLED, next_attempt_at=None, last_error="endpoint deleted"
        )
        endpoint.delete()


def update_endpoint(user, endpoint_id: Any, changes: EndpointChanges) -> WebhookEndpoint:
    """Apply ``changes`` to one of ``user``'s endpoints, under its row lock. A new URL
    passes the address rule again; pending deliveries go to it (an attempt reads the
    endpoint's URL when it is made). Enabling a disabled endpoint starts its failure
    streak afresh; disabling it by hand cancels what was waiting, as any disabling."""
    endpoint_for(user, endpoint_id)  # someone else's: 404 before judging the changes
    url = None if changes.url is None else validate_target_url(changes.url, field="url")
    events = None if changes.events is None else validate_events(changes.events)
    with transaction.atomic():  # the address was resolved above, outside it
        endpoint = endpoint_for(user, endpoint_id, lock=True)
        fields: dict[str, Any] = {"url": url, "events": events}
        if changes.description is not None:
            fields["description"] = changes.description[:200]
        fields = {name: value for name, value in fields.items() if value is not None}
        if fields:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**fields)
        if changes.enabled is True and not endpoint.enabled:
            enable_endpoint(endpoint)
        elif changes.enabled is False and endpoint.enabled:
            now = timezone.now()
            disable_endpoint(endpoint, f"Disabled by hand on {now:%Y-%m-%d %H:%M} UTC.", now)
    endpoint.refresh_from_db()
    return endpoint


def enable_endpoint(endpoint: WebhookEndpoint) -> None:
    """Back in service (its owner, the admin): the failure history starts again, so
    the 3-day rule counts from the next failure."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=True, disabled_reason=None, disabled_at=None, failing_since=None
    )


def disable_endpoint(endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    """Out of service until its owner or staff enable it again; ``reason`` is shown to
    its owner. What was waiting for it is cancelled."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False, disabled_reason=reason, disabled_at=now
    )
    WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.CANCELLED, next_attempt_at=None, last_error="endpoint disabled"
    )
    logger.warning("webhook endpoint disabled", extra={"endpoint": str(endpoint.id)})


def rotate_endpoint_secret(user, endpoint_id: Any) -> IssuedSecret:
    """A new signing secret for one of ``user``'s endpoints, shown once. The old one
    stops at once: every later attempt, pending retries included, is signed with the
    new one (there is no grace period with both, as for the callback secret)."""
    secret = signing.generate_secret()
    encrypted = vault.encrypt(secret)
    with transaction.atomic():
        endpoint = endpoint_for(user, endpoint_id, lock=True)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret_encrypted=encrypted)
    logger.info("webhook endpoint secret rotated", extra={"endpoint": str(endpoint.id)})
    return IssuedSecret(secret, timezone.now())


def endpoint_secret(endpoint: WebhookEndpoint) -> str:
    return vault.decrypt(endpoint.secret_encrypted)


# ------------------------------------------------------------ callback secret
def ensure_callback_secret(owner) -> str | None:
    """Create ``owner``'s callback secret if there is none; the new secret, or None
    when one existed (it is never shown again)."""
    secret = signing.generate_secret()
    created = CallbackSecret.objects.bulk_create(
        [CallbackSecret(owner=owner, secret_encrypted=vault.encrypt(secret))],
        ignore_conflicts=True,  # a concurrent first use won: theirs stays
    )
    inserted = CallbackSecret.objects.filter(
        owner=owner, secret_encrypted=created[0].secret_encrypted
    ).exists()
    return secret if inserted else None


def rotate_callback_secret(owner) -> IssuedSecret:
    """A new callback secret (the old one stops signing at once), shown once."""
    secret = signing.generate_secret()
    row, _ = CallbackSecret.objects.update_or_create(
        owner=owner, defaults={"secret_encrypted": vault.encrypt(secret)}
    )
    return IssuedSecret(secret, row.created_at)


def callback_secret_for(owner_id: int) -> str:
    """The secret signing ``owner_id``'s callbacks; made now if the submission's
    step that makes it did not run (the owner rotates it to learn it)."""
    row = CallbackSecret.objects.filter(owner_id=owner_id).first()
    if row is None:
        CallbackSecret.objects.bulk_create(
            [
                CallbackSecret(
                    owner_id=owner_id, secret_encrypted=vault.encrypt(signing.generate_secret())
                )
            ],
            ignore_conflicts=True,
        )
        row = CallbackSecret.objects.get(owner_id=owner_id)
    return vault.decrypt(row.secret_encrypted)


def endpoints_for_event(owner_id: int | None, event: str) -> Iterable[WebhookEndpoint]:
    if owner_id is None:
        return []
    return WebhookEndpoint.objects.filter(owner_id=owner_id, enabled=True, events__contains=[event])

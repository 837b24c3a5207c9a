"""Webhook secrets encrypted at rest with WEBHOOK_ENCRYPTION_KEY (Fernet).

A database dump alone does not give the secrets: the key lives only in the
environment. Several comma-separated keys rotate it: the first encrypts, any of
them decrypts. Without a key nothing is registered and nothing is delivered:
``WebhooksNotConfigured`` says which variable to set (a 503 from the API, an
error in the worker's log).
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from media_analysis.errors import ServiceError

MISSING_KEY = (
    "WEBHOOK_ENCRYPTION_KEY is not set: webhook secrets cannot be stored or read, so "
    "webhooks can neither be registered nor delivered. Set it to a Fernet key "
    '(python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())").'
)


class WebhooksNotConfigured(ServiceError, ImproperlyConfigured):
    http_status = 503

    def __init__(self) -> None:
        super().__init__("webhooks_not_configured", MISSING_KEY)


class SecretUnreadable(RuntimeError):
    """A stored secret no configured key decrypts (the key was replaced, not rotated)."""


def _cipher() -> MultiFernet:
    keys = settings.WEBHOOK_ENCRYPTION_KEY
    if not keys:
        raise WebhooksNotConfigured()
    return MultiFernet([Fernet(key) for key in keys])


def require_key() -> None:
    _cipher()


def encrypt(secret: str) -> str:
    return _cipher().encrypt(secret.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _cipher().decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "a webhook secret could not be decrypted with WEBHOOK_ENCRYPTION_KEY"
        ) from None

"""Fixtures for the batch tests: the API callers, webhook settings and a local
receiver (real PostgreSQL, Redis and HTTP)."""

from __future__ import annotations

from tests.api.conftest import alice, bob, staff  # noqa: F401 (fixtures)
from tests.webhooks.conftest import allow_loopback, receiver, webhook_settings  # noqa: F401

"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

A secret is ``whsec_`` + base64 of random bytes; the HMAC key is those bytes.
Each attempt sends ``webhook-id`` (the delivery's, the same on every attempt),
``webhook-timestamp`` (this attempt's, in seconds) and ``webhook-signature:
v1,<base64 HMAC-SHA256 of "id.timestamp.body">``. ``verify`` is what a receiver
does; the tests' receiver uses it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

PREFIX = "whsec_"
SECRET_BYTES = 32
# A receiver should refuse a timestamp further than this from its clock (replays).
TOLERANCE_SECONDS = 5 * 60


def generate_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(
    secret: str, webhook_id: str, body: bytes, *, timestamp: int | None = None
) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, webhook_id, timestamp, body),
    }


def verify(secret: str, headers: dict[str, str], body: bytes, *, now: float | None = None) -> bool:
    """True when one of the signatures in ``headers`` (space-separated, as the spec
    allows during a secret rotation) is ours and the timestamp is recent."""
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        webhook_id = lowered["webhook-id"]
        timestamp = int(lowered["webhook-timestamp"])
        presented = lowered["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = signature(secret, webhook_id, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in presented)

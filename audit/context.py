"""Who, from where, and as part of which story: the context of an audit entry.

Three sources, first match wins:

1. ``acting_as(...)``: an explicit actor (and correlation id) for a block of code;
   Celery tasks get one automatically (``audit.celery_hooks``), commands and
   cleanup set their own named system actor (``"system:cleanup"``).
2. The HTTP request being served (``AuditContextMiddleware`` keeps it in a
   context variable). Its user is read *when the entry is written*, not when the
   request arrives: DRF authenticates tokens inside the view, after middleware.
3. auditlog's own ``auditlog.context.set_actor(...)``, for code that uses it.

A process started as ``manage.py <command>`` with none of these gets the actor
``"system:command:<command>"``, so no command writes an anonymous entry.
"""

from __future__ import annotations

import ipaddress
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest

# performed_by is VARCHAR(100) in the plan.
ACTOR_MAX_LENGTH = 100
SYSTEM_PREFIX = "system:"
CORRELATION_HEADER = "X-Correlation-ID"


@dataclass(frozen=True)
class _Explicit:
    actor: str | None
    correlation_id: uuid.UUID | None


_explicit: ContextVar[_Explicit | None] = ContextVar("audit_explicit", default=None)
_http_request: ContextVar[HttpRequest | None] = ContextVar("audit_http_request", default=None)


@contextmanager
def acting_as(
    actor: str | None, *, correlation_id: uuid.UUID | str | None = None
) -> Iterator[None]:
    """Record changes made inside the block as done by ``actor`` (a system actor
    such as ``"system:cleanup"``, or a username), tied to ``correlation_id``.
    ``None`` for either keeps what the surrounding context says."""
    outer = _explicit.get()
    cid = parse_uuid(correlation_id)
    token = _explicit.set(
        _Explicit(
            actor=clip_actor(actor) if actor else (outer.actor if outer else None),
            correlation_id=cid or (outer.correlation_id if outer else None),
        )
    )
    try:
        yield
    finally:
        _explicit.reset(token)


@contextmanager
def serving(request: HttpRequest) -> Iterator[None]:
    """Make ``request`` the HTTP request audit entries are attributed to."""
    token = _http_request.set(request)
    try:
        yield
    finally:
        _http_request.reset(token)


# ----------------------------------------------------------------- resolution
def current_actor() -> str | None:
    explicit = _explicit.get()
    if explicit and explicit.actor:
        return explicit.actor
    request = _http_request.get()
    if request is not None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return actor_for_user(user)
        return _auditlog_actor()  # anonymous: only what a view set explicitly
    return _auditlog_actor() or process_actor()


def current_ip() -> str | None:
    request = _http_request.get()
    return client_ip(request) if request is not None else None


def current_correlation_id() -> str | None:
    """The correlation id as a string: also ``AUDITLOG_CID_GETTER``."""
    explicit = _explicit.get()
    if explicit and explicit.correlation_id:
        return str(explicit.correlation_id)
    request = _http_request.get()
    if request is None:
        return None
    # Set by the API's CorrelationIdMiddleware (media_analysis.middleware) when it runs.
    cid = parse_uuid(getattr(request, "correlation_id", None))
    if cid is None:
        cid = parse_uuid(request.headers.get(CORRELATION_HEADER))
    return str(cid) if cid else None


def actor_for_user(user) -> str:
    return clip_actor(user.get_username() or f"user:{user.pk}")


def clip_actor(actor: str) -> str:
    return str(actor)[:ACTOR_MAX_LENGTH]


def process_actor() -> str | None:
    """``system:command:<name>`` when this process is ``manage.py <name>``."""
    argv = sys.argv
    if len(argv) >= 2 and Path(argv[0]).name == "manage.py" and not argv[1].startswith("-"):
        return clip_actor(f"{SYSTEM_PREFIX}command:{argv[1]}")
    return None


def parse_uuid(value) -> uuid.UUID | None:
    if value is None or value == "":
        return None
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value).strip())
    except (ValueError, AttributeError):
        return None


# ------------------------------------------------------------------ client IP
def client_ip(request: HttpRequest) -> str | None:
    """The client's address. ``X-Forwarded-For`` is believed only when the peer is
    one of ``TRUSTED_PROXIES``: walking the header from the right, the first
    address that is not a trusted proxy is the client (entries to its left could
    have been written by anyone)."""
    peer = _ip(request.META.get("REMOTE_ADDR"))
    if peer is None:
        return None
    trusted = settings.TRUSTED_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not trusted or not forwarded or not _is_trusted(peer, trusted):
        return str(peer)
    hops = [part.strip() for part in forwarded.split(",")]
    client = peer
    for hop in reversed(hops):
        address = _ip(_strip_port(hop))
        if address is None:
            break  # a malformed entry: trust nothing beyond it
        client = address
        if not _is_trusted(address, trusted):
            break
    return str(client)


def _is_trusted(address, networks) -> bool:
    return any(address in network for network in networks)


def _ip(text: str | None):
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _strip_port(hop: str) -> str:
    if hop.startswith("["):  # [2001:db8::1]:443
        return hop[1:].split("]", 1)[0]
    if hop.count(":") == 1:  # 203.0.113.7:443
        return hop.split(":", 1)[0]
    return hop


# ------------------------------------------------------------------- helpers
def _auditlog_actor() -> str | None:
    from auditlog.context import auditlog_value

    try:
        data = auditlog_value.get()
    except LookupError:
        return None
    actor = data.get("actor")
    if actor is None:
        return None
    if isinstance(actor, str):
        return clip_actor(actor)
    if getattr(actor, "is_authenticated", False):
        return actor_for_user(actor)
    return None

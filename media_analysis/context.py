"""The context of the work in progress: which story, which exchange, who, from where.

One module that logging, auditing and the Celery hooks all read:

- ``correlation_id``: one piece of work across requests, tasks and services
  (``X-Correlation-ID``; stored on the analysis request, sent with its tasks);
- ``request_id``: the HTTP exchange (``X-Request-ID``), or, in a task, the
  exchange that submitted it;
- the actor changes are made by, and the client's address (``current_actor``,
  ``current_client_ip``);
- ``task_id`` and ``analysis_id``, for a task's log lines.

Ways in, innermost wins field by field (``None`` keeps what surrounds it):

1. ``serving(request)``: the HTTP exchange being served (``RequestContextMiddleware``).
   Its user is read when asked, not when the request arrives: DRF authenticates
   tokens inside the view, after every middleware.
2. ``acting_as(actor, correlation_id=...)``: a named actor for a block of code
   (``"system:cleanup"``); it wins over the request's user.
3. ``enter(...)`` / ``leave(token)``: the same for a scope that cannot be a
   ``with`` block, such as a Celery task (``media_analysis.task_context``).
4. auditlog's own ``auditlog.context.set_actor(...)``, for code that uses it.

A process started as ``manage.py <command>`` with none of these acts as
``"system:command:<command>"``, so no command writes an anonymous audit entry.

Keep this module free of model imports: ``celery.py`` imports it before Django is
set up.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import sys
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from django.http import HttpRequest

# performed_by is VARCHAR(100) in the plan.
ACTOR_MAX_LENGTH = 100
SYSTEM_PREFIX = "system:"
CORRELATION_HEADER = "X-Correlation-ID"
REQUEST_HEADER = "X-Request-ID"


@dataclass(frozen=True)
class Scope:
    """What the innermost scope says; a field left ``None`` is not known there."""

    actor: str | None = None
    correlation_id: uuid.UUID | None = None
    request_id: str | None = None
    task_id: str | None = None
    analysis_id: str | None = None
    http_request: HttpRequest | None = None


_EMPTY = Scope()
_scope: ContextVar[Scope | None] = ContextVar("media_analysis_context", default=None)
# The scope of the exchange this thread served last: Django logs 4xx/5xx responses
# ("django.request") after the middleware chain has returned, and those lines
# should carry its ids too; used for log lines only, never for audit entries.
_last_exchange: ContextVar[Scope | None] = ContextVar("last_exchange", default=None)


# The two headers as WSGI environ / request.META keys (read from META: building
# ``request.headers`` costs every request, a status poll most of all).
CORRELATION_META = "HTTP_" + CORRELATION_HEADER.upper().replace("-", "_")
REQUEST_META = "HTTP_" + REQUEST_HEADER.upper().replace("-", "_")


def new_exchange_id() -> uuid.UUID:
    """A random (version 4) UUID for a request or correlation id. From ``random``,
    not ``uuid.uuid4()``'s os.urandom: an id is no secret, and a system call for
    each of the two ids was a measurable share of a cached status poll (issue 12).
    Python reseeds ``random`` in every forked process, so workers never share ids."""
    return uuid.UUID(int=random.getrandbits(128), version=4)


def new_exchange_id_text() -> str:
    """``str(new_exchange_id())`` without making the UUID object: the same bits
    (version 4, RFC 4122 variant) formatted directly, for the status poll's fast
    path, which needs two ids as text on every answer."""
    value = random.getrandbits(128)
    value = (value & ~(0xC000 << 48)) | (0x8000 << 48)  # the variant, as uuid.UUID sets it
    value = (value & ~(0xF000 << 64)) | (4 << 76)  # the version
    hex_digits = f"{value:032x}"
    return (
        f"{hex_digits[:8]}-{hex_digits[8:12]}-{hex_digits[12:16]}-"
        f"{hex_digits[16:20]}-{hex_digits[20:]}"
    )


def exchange_id_text(sent: object) -> str:
    """An exchange's id as text: the valid UUID the caller sent (a proxy's, a
    client's), else a new one. RequestContextMiddleware and the status poll's fast
    path both name their exchanges by this rule."""
    if sent is None:
        return new_exchange_id_text()
    parsed = parse_uuid(sent)
    return str(parsed) if parsed is not None else new_exchange_id_text()


def parse_uuid(value: object) -> uuid.UUID | None:
    """The UUID in ``value`` (a UUID or its text), or None when absent or junk."""
    if isinstance(value, uuid.UUID):
        return value
    text = "" if value is None else str(value)
    if not text or len(text) > 64:  # no UUID is longer; do not parse junk at length
        return None
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        return None


# -------------------------------------------------------------------- scopes
def enter(
    *,
    actor: str | None = None,
    correlation_id: uuid.UUID | str | None = None,
    request_id: str | None = None,
    task_id: str | None = None,
    analysis_id: str | None = None,
    http_request: HttpRequest | None = None,
) -> Token[Scope | None]:
    """Start a scope; the fields given replace the surrounding context's, ``None``
    keeps them. Pair with ``leave(token)``."""
    changes: dict[str, Any] = {
        "actor": clip_actor(actor) if actor else None,
        "correlation_id": parse_uuid(correlation_id),
        "request_id": request_id,
        "task_id": task_id,
        "analysis_id": analysis_id,
        "http_request": http_request,
    }
    outer = _current()
    return _scope.set(replace(outer, **{k: v for k, v in changes.items() if v is not None}))


def leave(token: Token[Scope | None]) -> None:
    try:
        _scope.reset(token)
    except ValueError:  # entered in another context (an eager task in a thread)
        previous = token.old_value
        _scope.set(None if previous is Token.MISSING else previous)


def _current() -> Scope:
    return _scope.get() or _EMPTY


@contextmanager
def acting_as(
    actor: str | None, *, correlation_id: uuid.UUID | str | None = None
) -> Iterator[None]:
    """Changes made inside the block are by ``actor`` (a system actor such as
    ``"system:cleanup"``, or a username), tied to ``correlation_id``."""
    token = enter(actor=actor, correlation_id=correlation_id)
    try:
        yield
    finally:
        leave(token)


class serving:  # lower case: used like the function it was, ``with serving(request):``
    """Make ``request`` the HTTP exchange in progress. A class rather than a
    generator, with enter()'s general merge spelled out, and the exchange's ids for
    later log lines resolved only if such a line comes: every request pays for this."""

    __slots__ = ("_request", "_token")

    def __init__(self, request: HttpRequest) -> None:
        self._request = request

    def __enter__(self) -> None:
        outer = _current()
        request = self._request
        self._token = _scope.set(
            Scope(http_request=request) if outer is _EMPTY else replace(outer, http_request=request)
        )

    def __exit__(self, *exc_info: object) -> None:
        served = _current()
        leave(self._token)
        _last_exchange.set(served)


# ---------------------------------------------------------------- resolution
def current_correlation_id() -> uuid.UUID | None:
    """The story the work belongs to: also ``AUDITLOG_CID_GETTER``."""
    return _correlation_of(_current())


def _correlation_of(scope: Scope) -> uuid.UUID | None:
    if scope.correlation_id:
        return scope.correlation_id
    request = scope.http_request
    if request is None:
        return None
    # Set by RequestContextMiddleware; a request served without it has the header.
    return parse_uuid(getattr(request, "correlation_id", None)) or parse_uuid(
        request.headers.get(CORRELATION_HEADER)
    )


def current_request_id() -> str | None:
    """The HTTP exchange in progress, or the one that submitted this task."""
    return _request_id_of(_current())


def _request_id_of(scope: Scope) -> str | None:
    if scope.request_id:
        return scope.request_id
    if scope.http_request is None:
        return None
    return _text(parse_uuid(getattr(scope.http_request, "request_id", None)))


def current_actor() -> str | None:
    scope = _current()
    if scope.actor:
        return scope.actor
    request = scope.http_request
    if request is not None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return actor_for_user(user)
        return _auditlog_actor()  # anonymous: only what a view set explicitly
    return _auditlog_actor() or process_actor()


def current_client_ip() -> str | None:
    request = _current().http_request
    return client_ip(request) if request is not None else None


def actor_for_user(user: Any) -> str:
    return clip_actor(user.get_username() or f"user:{user.pk}")


def clip_actor(actor: str) -> str:
    return str(actor)[:ACTOR_MAX_LENGTH]


def process_actor() -> str | None:
    """``system:command:<name>`` when this process is ``manage.py <name>``."""
    argv = sys.argv
    if len(argv) >= 2 and Path(argv[0]).name == "manage.py" and not argv[1].startswith("-"):
        return clip_actor(f"{SYSTEM_PREFIX}command:{argv[1]}")
    return None


def _auditlog_actor() -> str | None:
    # Imported here: auditlog.context imports django.contrib.auth, which needs
    # Django set up, and celery.py loads this module before it is.
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


def _text(value: uuid.UUID | None) -> str | None:
    return str(value) if value else None


# ------------------------------------------------------------------ log lines
# task id -> log fields, for the worker main process's lines about a message
# ("Task ... received"), written before the task's scope exists. Bounded.
_message_fields: OrderedDict[str, dict[str, str]] = OrderedDict()
_MESSAGE_FIELDS_LIMIT = 10_000


def remember_message(task_id: str, fields: dict[str, str]) -> None:
    """Log fields for the lines about the message of task ``task_id``."""
    _message_fields[task_id] = fields
    while len(_message_fields) > _MESSAGE_FIELDS_LIMIT:
        _message_fields.popitem(last=False)


def log_fields() -> dict[str, str]:
    """The ids a log line written now should carry."""
    scope = _current()
    fields = {
        "correlation_id": _text(current_correlation_id()),
        "request_id": current_request_id(),
        "task_id": scope.task_id,
        "analysis_id": scope.analysis_id,
    }
    last = _last_exchange.get()
    if last is not None and not fields["correlation_id"] and not fields["request_id"]:
        fields.update(correlation_id=_text(_correlation_of(last)), request_id=_request_id_of(last))
    return {name: value for name, value in fields.items() if value}


class LogContextFilter(logging.Filter):
    """Adds ``correlation_id``, ``request_id``, ``task_id`` and ``analysis_id`` to
    each record when known and not passed with ``extra=``: from the context, or,
    for the lines a Celery worker's main process writes about a message
    (``extra={"data": {"id": task id}}``), from that message's headers."""

    def filter(self, record: logging.LogRecord) -> bool:
        data = getattr(record, "data", None)
        message = _message_fields.get(data.get("id")) if isinstance(data, dict) else None
        # A line about a given message is about that message's work first.
        for fields in (message or {}, log_fields()):
            for name, value in fields.items():
                if not hasattr(record, name):
                    setattr(record, name, value)
        return True


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
    client = peer
    for hop in reversed([part.strip() for part in forwarded.split(",")]):
        address = _ip(_strip_port(hop))
        if address is None:
            break  # a malformed entry: trust nothing beyond it
        client = address
        if not _is_trusted(address, trusted):
            break
    return str(client)


_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _is_trusted(address: _Address, networks: list[Any]) -> bool:
    return any(address in network for network in networks)


def _ip(text: str | None) -> _Address | None:
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

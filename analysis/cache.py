"""The API's Redis cache: keys, TTLs, invalidation and hit/miss counters, in one place.

What is cached (values are the response bytes, ready to send):

- ``status``: one request's status document, ``CACHE_TTL_STATUS`` seconds (300) while
  it is pending or processing, ``CACHE_TTL_RESULT`` (3600) once it has ended.
- ``history``: one page of a caller's history, ``CACHE_TTL_HISTORY`` seconds (60).
- ``token``: what an API token resolves to (see ``analysis.api.authentication``).

Invalidation uses generations rather than deletes. Each cached entry records the
generation of its request (or of its owner's history) that was current *before* it
was read from PostgreSQL; a state change increments the generation, so an entry
computed from older data is never served again, even when a slow reader stores it
after the change (the race a plain DELETE loses). A lookup fetches the entry and the
generations in one round trip (MGET). Every change bumps generations twice: at once,
and again when its transaction commits, so no reader can cache the pre-commit row
under the post-change generation.

When Redis is unreachable a bump is lost; the process then remembers to bump the
global epoch (which every entry also records) as soon as Redis answers again, so
no entry written before the outage is served after it.

Everything goes through ``media_analysis.resilience.redis_call``: with Redis down,
lookups miss and stores are skipped, and the API answers from PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver
from redis.exceptions import NoScriptError

from media_analysis.resilience import redis_call

STATUS = "status"
HISTORY = "history"
TOKEN = "token"  # noqa: S105 (a cache kind, not a secret)
KINDS = (STATUS, HISTORY, TOKEN)

# Generation keys outlive every entry (the longest TTL is CACHE_TTL_RESULT), so an
# expired generation can never make an old entry valid again.
GENERATION_TTL_SECONDS = 86_400

_epoch_bump_pending = False


_prefix_cache: list[str] = []


def _prefix() -> str:
    # Read once: settings are a lazy object, slow to consult on every key.
    if not _prefix_cache:
        _prefix_cache.append(f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:api")
    return _prefix_cache[0]


@receiver(setting_changed)
def _forget_prefix(setting: str, **kwargs: Any) -> None:
    if setting == "CACHES":
        _prefix_cache.clear()


def key(*parts: Any) -> str:
    return ":".join((_prefix(), *map(str, parts)))


def _epoch_key() -> str:
    return key("gen", "epoch")


def status_generation_key(request_id: Any) -> str:
    return key("gen", STATUS, request_id)


def history_generation_key(scope: str) -> str:
    return key("gen", HISTORY, scope)


def history_scope(user: Any) -> str:
    """Whose history a caller sees: staff see everyone's ("all")."""
    return "all" if user.is_staff else f"user:{user.pk}"


def ttl_for_status(status: str) -> int:
    if status in ("pending", "processing"):
        return settings.CACHE_TTL_STATUS
    return settings.CACHE_TTL_RESULT


# ------------------------------------------------------------------- entries
@dataclass(frozen=True)
class Lookup:
    """The outcome of one lookup: ``body`` on a hit, and the generation stamp a
    fill must carry (taken before the database is read)."""

    stamp: bytes
    body: bytes | None = None
    owner_id: int | None = None

    @property
    def hit(self) -> bool:
        return self.body is not None


_NO_REDIS = Lookup(stamp=b"", body=None)


def _stamp(epoch: bytes | None, generation: bytes | None) -> bytes:
    return (epoch or b"0") + b"." + (generation or b"0")


def _parse(raw: bytes | None, stamp: bytes) -> tuple[bytes | None, int | None]:
    """Entry layout: ``{stamp}\\n{owner_id}\\n{body}``; a stale stamp is a miss."""
    if not raw:
        return None, None
    entry_stamp, _, rest = raw.partition(b"\n")
    if entry_stamp != stamp:
        return None, None
    owner, _, body = rest.partition(b"\n")
    return body, (int(owner) if owner else None)


def _lookup(kind: str, entry_key: str, generation_key: str) -> Lookup:
    _bump_epoch_if_pending()

    def fetch(client) -> Lookup:
        pipe = client.pipeline(transaction=False)
        pipe.mget(entry_key, generation_key, _epoch_key())
        pipe.hincrby(key("stats"), f"{kind}:lookups", 1)
        (raw, generation, epoch), _ = pipe.execute()
        stamp = _stamp(epoch, generation)
        body, owner_id = _parse(raw, stamp)
        return Lookup(stamp=stamp, body=body, owner_id=owner_id)

    found = redis_call(fetch, default=_NO_REDIS)
    if not found.hit and found is not _NO_REDIS:
        _count_miss(kind)
    return found


def _count_miss(kind: str) -> None:
    redis_call(lambda client: client.hincrby(key("stats"), f"{kind}:misses", 1))


def _store(entry_key: str, lookup: Lookup, owner_id: int | None, body: bytes, ttl: int) -> None:
    if lookup is _NO_REDIS or not lookup.stamp:
        return  # Redis was down at lookup time: no trustworthy stamp
    value = (
        lookup.stamp
        + b"\n"
        + (str(owner_id).encode() if owner_id is not None else b"")
        + b"\n"
        + body
    )
    redis_call(lambda client: client.set(entry_key, value, ex=ttl))


def lookup_status(request_id: Any) -> Lookup:
    return _lookup(STATUS, key(STATUS, request_id), status_generation_key(request_id))


def store_status(
    request_id: Any, lookup: Lookup, *, owner_id: int | None, status: str, body: bytes
) -> None:
    _store(key(STATUS, request_id), lookup, owner_id, body, ttl_for_status(status))


def history_key(scope: str, query: str) -> str:
    digest = hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return key(HISTORY, scope, digest)


def lookup_history(scope: str, query: str) -> Lookup:
    return _lookup(HISTORY, history_key(scope, query), history_generation_key(scope))


def store_history(scope: str, query: str, lookup: Lookup, body: bytes) -> None:
    _store(history_key(scope, query), lookup, None, body, settings.CACHE_TTL_HISTORY)


# -------------------------------------------------------- the status poll path
_POLL_SCRIPT = """
local found = redis.call('MGET', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
found[5] = redis.call('INCR', KEYS[5])
redis.call('EXPIRE', KEYS[5], ARGV[1])
redis.call('HINCRBY', KEYS[6], 'status:lookups', 1)
redis.call('HINCRBY', KEYS[6], 'token:lookups', 1)
return found
"""
_POLL_SCRIPT_SHA = hashlib.sha1(_POLL_SCRIPT.encode()).hexdigest()  # noqa: S324 (Redis's script id)


def _run_poll_script(client, keys: list[str], *args: Any) -> list:
    connection = _poll_connection(client)
    command = [_pack("EVALSHA", _POLL_SCRIPT_SHA, len(keys), *keys, *args)]
    try:
        return _send(connection, command)
    except NoScriptError:  # first use, or Redis restarted
        client.script_load(_POLL_SCRIPT)
        return _send(connection, command)


def _send(connection, command: list[bytes]) -> Any:
    # A connection error or timeout closes the connection (redis-py does) and is
    # raised to redis_call, which counts it against the Redis breaker.
    connection.send_packed_command(command)
    return connection.read_response()


def _pack(*args: str | int) -> bytes:
    """One command in Redis's protocol (RESP): what redis-py's pack_command makes
    of these text and integer arguments, at a fifth of its cost."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


_poll_connections = threading.local()


def _poll_connection(client):
    """This thread's own connection for the poll script, made with the client's
    pool settings (address, database, password, timeouts). The status poll is the
    hot path, and redis-py's checkout, bookkeeping and release of a pooled
    connection cost about as much CPU as the round trip itself."""
    pool = client.connection_pool
    held = getattr(_poll_connections, "held", None)
    if held is None or held[0] is not pool:  # first use, or the cache settings changed
        if held is not None:
            held[1].disconnect()
        held = (pool, pool.connection_class(**pool.connection_kwargs))
        _poll_connections.held = held
    return held[1]


@dataclass(frozen=True)
class PollPrefetch:
    """What one status poll needs from Redis, fetched in a single round trip: the
    cached status with its generation stamp, the cached token lookup, and the
    caller's throttle counter (already incremented)."""

    status: Lookup
    token: dict[str, Any] | None
    throttle_key: str
    throttle_count: int


def prefetch_status_poll(
    request_id: Any, token_digest: str, throttle_key: str, throttle_period: int
) -> PollPrefetch | None:
    """None when Redis is unreachable (the caller then takes the ordinary path)."""
    _bump_epoch_if_pending()

    # The keys key() would make, with the prefix read once: the hot path.
    prefix = _prefix()
    keys = [
        f"{prefix}:{STATUS}:{request_id}",
        f"{prefix}:gen:{STATUS}:{request_id}",
        f"{prefix}:gen:epoch",
        f"{prefix}:{TOKEN}:{token_digest}",
        throttle_key,
        f"{prefix}:stats",
    ]

    def fetch(client) -> PollPrefetch:
        # One command (a script), not a pipeline of five: the hot path's cost is
        # mostly per command in redis-py, not the round trip.
        raw, generation, epoch, token_raw, count = _run_poll_script(
            client, keys, throttle_period + 1
        )
        stamp = _stamp(epoch, generation)
        body, owner_id = _parse(raw, stamp)
        return PollPrefetch(
            status=Lookup(stamp=stamp, body=body, owner_id=owner_id),
            token=json.loads(token_raw) if token_raw else None,
            throttle_key=throttle_key,
            throttle_count=int(count),
        )

    found = redis_call(fetch, default=None)
    if found is not None:
        if not found.status.hit:
            _count_miss(STATUS)
        if found.token is None:
            _count_miss(TOKEN)
    return found


# -------------------------------------------------------------------- tokens
def token_key(digest: str) -> str:
    return key(TOKEN, digest)


def get_token(digest: str) -> dict[str, Any] | None:
    def fetch(client) -> tuple[bool, bytes | None]:
        pipe = client.pipeline(transaction=False)
        pipe.get(token_key(digest))
        pipe.hincrby(key("stats"), f"{TOKEN}:lookups", 1)
        return True, pipe.execute()[0]

    reached, raw = redis_call(fetch, default=(False, None))
    if reached and not raw:
        _count_miss(TOKEN)
    return json.loads(raw) if raw else None


def store_token(digest: str, data: dict[str, Any], ttl: int) -> None:
    redis_call(lambda client: client.set(token_key(digest), json.dumps(data), ex=ttl))


TOKEN_REFRESH_LOCK_SECONDS = 10


def claim_token_refresh(digest: str) -> bool:
    """True for the one caller that should check a stale token lookup against the
    database now (Redis down: everyone may)."""
    claimed = redis_call(
        lambda client: client.set(
            key(TOKEN, "refresh", digest), b"1", nx=True, ex=TOKEN_REFRESH_LOCK_SECONDS
        ),
        default=True,
    )
    return bool(claimed)


def forget_tokens(digests: list[str]) -> None:
    if digests:
        redis_call(lambda client: client.delete(*(token_key(d) for d in digests)))


# -------------------------------------------------------------- invalidation
def forget_everything(**_: Any) -> None:
    """Every cached answer and token lookup describes a database that is gone (a
    restore replaced it): a new epoch makes every cached status and history page
    stale, and the token lookups go. Only this service's keys; Redis down is fine
    (then nothing is cached)."""

    def forget(client) -> None:
        client.incr(_epoch_key())
        for token in client.scan_iter(match=key(TOKEN, "*"), count=1000):
            client.delete(token)

    redis_call(forget)


def forget_answers() -> None:
    """Every cached status and history page stale (a new epoch), token lookups kept:
    for a change of many requests at once (``index_history_search``)."""
    redis_call(lambda client: client.incr(_epoch_key()))


def invalidate_request(request: Any) -> None:
    """Make every cached view of ``request`` stale: its status, its owner's history
    and the staff-wide history. Call it inside the transaction that changes it."""
    keys = [status_generation_key(request.pk), history_generation_key("all")]
    if getattr(request, "owner_id", None) is not None:
        keys.append(history_generation_key(f"user:{request.owner_id}"))
    _bump(keys)
    transaction.on_commit(lambda: _bump(keys), robust=True)


def _bump(keys: list[str]) -> None:
    global _epoch_bump_pending

    def bump(client) -> bool:
        pipe = client.pipeline(transaction=False)
        for generation_key in keys:
            pipe.incr(generation_key)
            pipe.expire(generation_key, GENERATION_TTL_SECONDS)
        pipe.execute()
        return True

    if redis_call(bump, default=False) is not True:
        _epoch_bump_pending = True


def _bump_epoch_if_pending() -> None:
    global _epoch_bump_pending
    if not _epoch_bump_pending:
        return
    if redis_call(lambda client: client.incr(_epoch_key()), default=None) is not None:
        _epoch_bump_pending = False


# --------------------------------------------------------------------- stats
def cache_stats() -> dict[str, dict[str, int]]:
    """Lookups and misses per kind across every process (kept in Redis), with the
    hit rate: ``{"status": {"lookups": 10, "misses": 1, "hits": 9}, ...}``."""
    raw = redis_call(lambda client: client.hgetall(key("stats")), default={}) or {}
    stats: dict[str, dict[str, int]] = {kind: {"lookups": 0, "misses": 0} for kind in KINDS}
    for field, value in raw.items():
        kind, _, what = field.decode().partition(":")
        stats.setdefault(kind, {"lookups": 0, "misses": 0})[what] = int(value)
    for counts in stats.values():
        counts["hits"] = max(0, counts["lookups"] - counts["misses"])
    return stats


def reset_cache_stats() -> None:
    redis_call(lambda client: client.delete(key("stats")))

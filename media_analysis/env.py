"""Typed readers for environment variables.

Every setting of the service comes from the environment through these helpers.
They refuse junk loudly (``ImproperlyConfigured`` naming the variable) instead of
silently falling back, so a typo in a deployment fails at start-up, not at 3 a.m.
"""

from __future__ import annotations

import os
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str | None = None, *, required: bool = False) -> str | None:
    value = _raw(name)
    if value is None:
        if required:
            raise ImproperlyConfigured(f"{name} must be set")
        return default
    return value


def env_secret(name: str, default: str | None = None, *, required: bool = False) -> str | None:
    """A secret from ``NAME``, or from the file ``NAME_FILE`` names (how Docker and
    Kubernetes hand secrets over; the convention of the official PostgreSQL image).
    The file's content is the value, less one trailing newline; a value set both
    ways is refused, naming both variables. Never echoes the value in an error."""
    direct = os.environ.get(name)
    if direct is not None and direct.strip() == "":
        direct = None
    file_name = f"{name}_FILE"
    path = _raw(file_name)
    if direct is not None and path is not None:
        raise ImproperlyConfigured(
            f"{name} and {file_name} are both set: give the secret one way, not both"
        )
    if path is not None:
        try:
            content = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise ImproperlyConfigured(f"{file_name}={path!r} cannot be read: {reason}") from None
        direct = content.removesuffix("\n").removesuffix("\r")
        if direct == "":
            raise ImproperlyConfigured(f"{file_name}={path!r} is empty")
    if direct is None:
        if required:
            raise ImproperlyConfigured(f"{name} (or {file_name}) must be set")
        return default
    return direct


def url_with_password(url: str, password: str | None) -> str:
    """``url`` with its password replaced by ``password`` (any characters: it is
    percent-encoded here, so nobody encodes it by hand); ``url`` unchanged when
    ``password`` is None."""
    if password is None:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    user = quote(unquote(parts.username or ""), safe="")
    netloc = f"{user}:{quote(password, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true/false)")


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    value = _raw(name)
    if value is None:
        result = default
    else:
        try:
            result = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None
    _check_range(name, result, minimum, maximum)
    return result


def env_float(
    name: str, default: float, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    value = _raw(name)
    if value is None:
        result = default
    else:
        try:
            result = float(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None
        if result != result or result in (float("inf"), float("-inf")):
            raise ImproperlyConfigured(f"{name}={value!r} is not a finite number")
    _check_range(name, result, minimum, maximum)
    return result


def env_usd(name: str) -> Decimal | None:
    """An amount of US dollars, zero or more; unset or empty means no amount (None)."""
    value = _raw(name)
    if value is None:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name}={value!r} is not an amount of USD") from None
    if not amount.is_finite() or amount < 0:
        raise ImproperlyConfigured(f"{name}={value!r} must be a finite amount of USD, 0 or more")
    return amount


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: set[str] | frozenset[str]) -> str:
    value = (_raw(name) or default).lower()
    if value not in choices:
        allowed = ", ".join(sorted(choices))
        raise ImproperlyConfigured(f"{name}={value!r} is not one of: {allowed}")
    return value


def require_at_most(lower_name: str, lower: float, upper_name: str, upper: float) -> None:
    """Refuse two settings that contradict each other, naming both: ``lower`` must
    not exceed ``upper``."""
    if lower > upper:
        raise ImproperlyConfigured(
            f"{lower_name}={lower} must not exceed {upper_name}={upper}: change one of them"
        )


def require_below(lower_name: str, lower: float, upper_name: str, upper: float) -> None:
    """Like :func:`require_at_most`, but ``lower`` must be strictly below ``upper``."""
    if lower >= upper:
        raise ImproperlyConfigured(
            f"{lower_name}={lower} must be below {upper_name}={upper}: change one of them"
        )


def running_celery() -> bool:
    """True in a process started as ``celery …`` (worker, beat, inspect): their
    defaults differ from the web's in a few places (the database pool)."""
    program = os.path.basename(sys.argv[0]) if sys.argv else ""
    return program == "celery" or sys.argv[0].endswith(os.path.join("celery", "__main__.py"))


def _check_range(name: str, value: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum {minimum}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name}={value} is above the maximum {maximum}")


def parse_database_url(url: str) -> dict:
    """Turn ``postgres://user:pass@host:port/name?host=/socket`` into Django's DATABASES entry.

    Only PostgreSQL is accepted: the schema relies on its ENUM types, JSONB, INET
    and partial indexes, so another engine would fail much later and less clearly.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL must be a postgres:// or postgresql:// URL, not {parts.scheme!r}"
        )
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured("DATABASE_URL must name a database (postgres://host/NAME)")
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured("DATABASE_URL has an invalid port") from None
    return {
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        # A ?host=/path query names a Unix socket directory (the embedded server uses one).
        "HOST": query.pop("host", None) or parts.hostname or "",
        "PORT": str(port or ""),
        "EXTRA_OPTIONS": query,
    }


def redis_url_for_celery(url: str) -> str:
    """Kombu spells a Unix-socket Redis URL ``redis+socket://``; redis-py spells it ``unix://``."""
    if url.startswith("unix://"):
        return "redis+socket://" + url[len("unix://") :]
    return url

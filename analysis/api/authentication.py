"""Token authentication against hashed tokens, with the lookup cached in Redis.

``Authorization: Token <token>`` (or ``Bearer <token>``). The token's SHA-256 is
looked up; the answer (user id, staff flag, expiry) is cached under that digest so a
polling client costs no database query. A cached answer is trusted for
``API_TOKEN_CACHE_SECONDS``, then checked again against PostgreSQL (by one request;
concurrent ones keep using the cached answer meanwhile); while PostgreSQL
is unavailable an older cached answer (kept up to ``API_TOKEN_CACHE_MAX_STALE_SECONDS``)
still authenticates, so cached reads keep working. Revoking a token, deleting it,
or changing or deleting its user drops the cached answer at once (signals in
``analysis.models_api``); expiry is checked on every request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from analysis import cache
from analysis.models_api import ApiToken, hash_token
from media_analysis.resilience import DependencyUnavailable, call_database

KEYWORDS = ("token", "bearer")
MAX_TOKEN_LENGTH = 200
LAST_USED_RESOLUTION = timedelta(minutes=5)


@dataclass(frozen=True)
class TokenIdentity:
    """What ``request.auth`` holds: the token's id (throttling is per token)."""

    token_id: int
    user_id: int
    expires_at: float | None
    digest: str


class HashedTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        keyword, _, token = header.strip().partition(" ")
        if keyword.lower() not in KEYWORDS:
            return None
        token = token.strip()
        if not token or " " in token or len(token) > MAX_TOKEN_LENGTH:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: use 'Token <token>' or 'Bearer <token>'."
            )
        digest = hash_token(token)
        prefetched = getattr(request._request, "api_prefetch", None)
        if prefetched is not None and prefetched.token is not None:
            return resolve_token(digest, cached=prefetched.token)
        return resolve_token(digest)

    def authenticate_header(self, request) -> str:
        return 'Token realm="api"'


def resolve_token(digest: str, *, cached: dict | None = None):
    """(user, identity) for a token digest, from the cache when it is fresh enough
    (``cached``: the lookup already fetched with the status poll's round trip)."""
    if cached is None:
        cached = cache.get_token(digest)
    now = time.time()
    if cached is not None and now - cached["checked_at"] < settings.API_TOKEN_CACHE_SECONDS:
        return _from_cached(digest, cached, now)
    if cached is not None and not cache.claim_token_refresh(digest):
        # Another request is checking this token against PostgreSQL right now: the
        # answer we have will do meanwhile (no stampede of identical queries).
        return _from_cached(digest, cached, now)
    try:
        data = call_database(_load_token, digest)
    except DependencyUnavailable:
        if cached is not None:  # the database is away: an older answer will do
            return _from_cached(digest, cached, now)
        raise
    if data is None:
        raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
    cache.store_token(digest, data, settings.API_TOKEN_CACHE_MAX_STALE_SECONDS)
    return _from_cached(digest, data, now)


def _from_cached(digest: str, data: dict, now: float):
    expires_at = data.get("expires_at")
    if expires_at is not None and expires_at <= now:
        raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
    # An unsaved instance with its primary key set: enough for ownership checks and
    # foreign keys, and built without a query.
    user = get_user_model()(
        pk=data["user_id"],
        username=data["username"],
        is_staff=data["is_staff"],
        is_superuser=data["is_superuser"],
        is_active=True,
    )
    return user, TokenIdentity(data["token_id"], data["user_id"], expires_at, digest)


def presented_digest(request) -> str | None:
    """The digest of the token in the Authorization header, if it is well formed."""
    keyword, _, token = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    token = token.strip()
    if (
        keyword.lower() not in KEYWORDS
        or not token
        or " " in token
        or len(token) > MAX_TOKEN_LENGTH
    ):
        return None
    return hash_token(token)


def _load_token(digest: str) -> dict | None:
    row = (
        ApiToken.objects.select_related("user")
        .filter(digest=digest, revoked_at__isnull=True)
        .first()
    )
    now = timezone.now()
    if row is None or not row.is_usable(now) or not row.user.is_active:
        return None
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return {
        "token_id": row.pk,
        "user_id": row.user_id,
        "username": row.user.get_username(),
        "is_staff": row.user.is_staff,
        "is_superuser": row.user.is_superuser,
        "expires_at": row.expires_at.timestamp() if row.expires_at else None,
        "checked_at": time.time(),
    }


class HashedTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes this authentication."""

    target_class = HashedTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "'Token <token>' or 'Bearer <token>' (python manage.py create_api_token USER)",
        }

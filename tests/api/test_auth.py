"""Who may call what: hashed tokens (Token and Bearer), expiry, revocation, the
create_api_token command, ownership, and the token lookup cached in Redis."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from analysis.models_api import ApiToken, hash_token
from tests.api.conftest import error_of, make_caller, make_request, new_id

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    ("post", "/api/media/analyze"),
    ("get", "/api/media/history"),
    ("get", f"/api/media/status/{new_id()}"),
    ("get", f"/api/media/{new_id()}/contact-sheet"),
    ("post", f"/api/media/{new_id()}/retry"),
    ("post", f"/api/media/{new_id()}/cancel"),
    ("delete", f"/api/media/{new_id()}"),
    ("get", "/api/schema/"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_endpoint_but_health_needs_a_token(method, path):
    response = getattr(APIClient(), method)(path)
    assert response.status_code == 401
    if path.startswith("/api/media"):
        assert error_of(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Token")


def test_health_answers_without_a_token(client):
    assert client.get("/health").status_code == 200


@pytest.mark.parametrize("scheme", ["Token", "Bearer", "bearer"])
def test_token_and_bearer_are_accepted(scheme):
    caller = make_caller("carol", scheme=scheme)
    assert caller.client.get("/api/media/history").status_code == 200


@pytest.mark.parametrize(
    "header",
    ["Token ma_not-a-real-token", "Token", "Token a b", "Bearer " + "x" * 500],
)
def test_bad_tokens_are_refused(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/media/history")
    assert response.status_code == 401
    assert error_of(response)["code"] in {"authentication_failed", "not_authenticated"}


def test_tokens_are_stored_hashed(alice):
    row = ApiToken.objects.get(user=alice.user)
    assert row.digest == hash_token(alice.token)
    assert alice.token not in {row.digest, row.prefix, row.name}
    assert len(alice.token) > 40


def test_an_expired_token_is_refused():
    caller = make_caller("dave")
    ApiToken.objects.filter(user=caller.user).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert caller.client.get("/api/media/history").status_code == 401


def test_expiry_is_checked_even_when_the_lookup_is_cached():
    caller = make_caller("erin")
    token = ApiToken.objects.get(user=caller.user)
    token.expires_at = timezone.now() + timedelta(seconds=2)
    token.save()
    assert caller.client.get("/api/media/history").status_code == 200  # now cached
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    # The cached copy still says "+2 s": move past it instead of waiting.
    from analysis import cache

    cached = cache.get_token(token.digest)
    cached["expires_at"] = timezone.now().timestamp() - 1
    cache.store_token(token.digest, cached, 60)
    assert caller.client.get("/api/media/history").status_code == 401


def test_revoking_a_token_takes_effect_at_once_despite_the_cache(alice):
    assert alice.client.get("/api/media/history").status_code == 200
    ApiToken.objects.get(user=alice.user).revoke()
    assert alice.client.get("/api/media/history").status_code == 401


def test_deactivating_the_user_takes_effect_at_once(alice):
    assert alice.client.get("/api/media/history").status_code == 200
    alice.user.is_active = False
    alice.user.save()
    assert alice.client.get("/api/media/history").status_code == 401


def test_a_cached_token_costs_no_database_query(alice):
    request = make_request(alice.user)
    assert alice.client.get(f"/api/media/status/{request.id}").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = alice.client.get(f"/api/media/status/{request.id}")
    assert response.status_code == 200
    assert response["X-Data-Source"] == "cache"
    assert len(queries) == 0, [q["sql"] for q in queries]


def test_the_token_lookup_is_refreshed_from_the_database_after_its_ttl(alice, settings):
    settings.API_TOKEN_CACHE_SECONDS = 1
    from analysis import cache

    assert alice.client.get("/api/media/history").status_code == 200
    digest = hash_token(alice.token)
    cached = cache.get_token(digest)
    cached["checked_at"] -= 5
    cache.store_token(digest, cached, 60)
    with CaptureQueriesContext(connection) as queries:
        alice.client.get("/api/media/history")
    assert any("api_tokens" in q["sql"] for q in queries)


# ------------------------------------------------------------------ command
def test_create_api_token_creates_the_user_and_prints_the_token_alone():
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", "frank", stdout=out, stderr=err)
    token = out.getvalue().strip()
    assert "\n" not in token and token.startswith("ma_")
    user = get_user_model().objects.get(username="frank")
    assert not user.is_staff and not user.has_usable_password()
    assert ApiToken.objects.get(user=user).digest == hash_token(token)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/media/history").status_code == 200


def test_create_api_token_staff_and_a_second_token_for_an_existing_user():
    first, second = io.StringIO(), io.StringIO()
    call_command("create_api_token", "grace", stdout=first, stderr=io.StringIO())
    call_command(
        "create_api_token",
        "grace",
        "--staff",
        "--expires-days",
        "7",
        stdout=second,
        stderr=io.StringIO(),
    )
    user = get_user_model().objects.get(username="grace")
    assert user.is_staff
    assert ApiToken.objects.filter(user=user).count() == 2
    assert first.getvalue() != second.getvalue()
    newest = ApiToken.objects.filter(user=user).order_by("-id").first()
    assert timedelta(days=6) < newest.expires_at - timezone.now() <= timedelta(days=7)


def test_create_api_token_revoke_all_rotates():
    old = io.StringIO()
    call_command("create_api_token", "heidi", stdout=old, stderr=io.StringIO())
    call_command(
        "create_api_token", "heidi", "--revoke-all", stdout=io.StringIO(), stderr=io.StringIO()
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {old.getvalue().strip()}")
    assert client.get("/api/media/history").status_code == 401


# ---------------------------------------------------------------- ownership
def test_another_users_request_is_not_found_and_not_listed(alice, bob):
    request = make_request(alice.user)
    for method, path in [
        ("get", f"/api/media/status/{request.id}"),
        ("get", f"/api/media/{request.id}/contact-sheet"),
        ("post", f"/api/media/{request.id}/retry"),
        ("post", f"/api/media/{request.id}/cancel"),
        ("delete", f"/api/media/{request.id}"),
    ]:
        response = getattr(bob.client, method)(path)
        assert response.status_code == 404, (method, path)
        assert error_of(response)["code"] == "not_found"
    assert bob.client.get("/api/media/history").json()["count"] == 0
    request.refresh_from_db()
    assert request.status == "pending" and request.deleted_at is None


def test_owner_check_applies_to_cached_status_too(alice, bob):
    request = make_request(alice.user)
    assert alice.client.get(f"/api/media/status/{request.id}")["X-Data-Source"] == "database"
    assert bob.client.get(f"/api/media/status/{request.id}").status_code == 404


def test_staff_see_everyones_requests(alice, staff):
    request = make_request(alice.user)
    assert staff.client.get(f"/api/media/status/{request.id}").status_code == 200
    assert staff.client.get("/api/media/history").json()["count"] == 1


def test_a_stale_token_lookup_is_refreshed_by_one_request_only(alice, settings):
    from analysis import cache

    assert alice.client.get("/api/media/history").status_code == 200
    digest = hash_token(alice.token)
    cached = cache.get_token(digest)
    cached["checked_at"] -= 3600
    cache.store_token(digest, cached, 3600)
    assert cache.claim_token_refresh(digest)  # someone else is refreshing it now
    with CaptureQueriesContext(connection) as queries:
        assert alice.client.get("/api/media/history").status_code == 200
    assert not any("api_tokens" in q["sql"] for q in queries)

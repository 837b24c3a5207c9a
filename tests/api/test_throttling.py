"""Per-token rate limits from settings, counted in Redis: 429 with Retry-After."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from analysis.api.throttling import parse_rate
from analysis.models_api import ApiToken
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def tight_rates(settings):
    settings.API_THROTTLE_RATES = {"read": "3/min", "write": "2/min"}


def test_reads_over_the_rate_get_429_with_retry_after(alice, tight_rates):
    for _ in range(3):
        assert alice.client.get("/api/media/history").status_code == 200
    response = alice.client.get("/api/media/history")
    assert response.status_code == 429
    error = error_of(response)
    assert error["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60 and error["retry_after"] == int(
        response["Retry-After"]
    )


def test_limits_are_per_token_and_per_scope(alice, bob, tight_rates):
    for _ in range(3):
        alice.client.get("/api/media/history")
    assert alice.client.get("/api/media/history").status_code == 429
    assert bob.client.get("/api/media/history").status_code == 200
    # The write scope has its own budget.
    assert alice.client.post("/api/media/analyze", {}, format="json").status_code == 400
    # A second token of the same user has its own budget too.
    _, second = ApiToken.issue(alice.user)
    alice.client.credentials(HTTP_AUTHORIZATION=f"Token {second}")
    assert alice.client.get("/api/media/history").status_code == 200


def test_writes_over_the_rate(alice, tight_rates):
    codes = [
        alice.client.post("/api/media/analyze", {}, format="json").status_code for _ in range(3)
    ]
    assert codes == [400, 400, 429]


@pytest.mark.parametrize(
    ("rate", "expected"),
    [("600/min", (600, 60)), ("20/s", (20, 1)), ("10/5s", (10, 5)), ("1000/day", (1000, 86400))],
)
def test_rates_parse(rate, expected):
    assert parse_rate(rate) == expected


@pytest.mark.parametrize("rate", ["", "fast", "0/min", "10/fortnight", "-1/s"])
def test_bad_rates_are_refused(rate):
    with pytest.raises(ImproperlyConfigured):
        parse_rate(rate)

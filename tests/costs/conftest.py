"""Fixtures for the cost tests: real PostgreSQL and Redis (this suite's Redis
database flushed before each test), a storage root of the test's own, callers with
tokens, and a local OpenAI-compatible provider that reports usage (``servers.py``)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django_redis import get_redis_connection

from analysis.models import AnalysisRequest, AnalysisResult
from media_analysis.resilience import reset_breakers
from tests.api.conftest import Caller, make_caller
from tests.costs.servers import MODEL, BillingProvider
from tests.processing.media_factory import make_image, make_video


@pytest.fixture(autouse=True)
def clean_redis():
    """Each test starts with an empty cache, closed breakers and fresh throttles."""
    get_redis_connection("default").flushdb()
    reset_breakers()
    yield
    reset_breakers()


@pytest.fixture(autouse=True)
def _own_storage_root(storage_root):
    """Every cost test writes into a storage root of its own (tests/conftest.py)."""


@pytest.fixture(autouse=True)
def _no_default_budgets(settings):
    """Budgets are set by the tests that need them."""
    settings.BUDGET_DAILY_USD = None
    settings.BUDGET_MONTHLY_USD = None


@pytest.fixture
def alice(db) -> Caller:
    return make_caller("alice")


@pytest.fixture
def bob(db) -> Caller:
    return make_caller("bob")


@pytest.fixture
def staff(db) -> Caller:
    return make_caller("root", staff=True)


@pytest.fixture
def billing(settings):
    """The local provider, configured as ``openai`` (priced as gpt-4o-mini)."""
    server = BillingProvider()
    settings.OPENAI_BASE_URL = server.base_url
    settings.OPENAI_API_KEY = "sk-costs-test"
    settings.OPENAI_MODEL = MODEL
    settings.PROVIDER_MAX_RETRIES = 0
    yield server
    server.stop()


@pytest.fixture(scope="session")
def photo(tmp_path_factory) -> Path:
    return make_image(tmp_path_factory.mktemp("costs") / "photo.jpg", size=(640, 360))


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("costs") / "clip.mp4", seconds=4.0)


def record_spend(owner, cost: str | None, *, provider="openai", model=MODEL, **fields):
    """A completed request of ``owner`` with one result that cost ``cost`` USD."""
    request = AnalysisRequest.objects.create(
        owner=owner,
        media_url="http://127.0.0.1:9/clip.mp4",
        prompt="describe",
        provider=provider,
        metadata={"options": {"frames": 6, "grid": "2x3", "resolution": "1920x1080"}},
    )
    AnalysisResult.objects.create(
        request=request,
        result_text="A clip.",
        model_used=model,
        provider=provider,
        input_tokens=fields.pop("input_tokens", 1000),
        output_tokens=fields.pop("output_tokens", 100),
        cost_usd=None if cost is None else Decimal(cost),
        **fields,
    )
    return request

"""Cost control as an operator runs it: gunicorn and the Celery worker as shipped
(tests/operations/stack.py), over real HTTP, with the local provider that bills
from what it is sent (servers.py). The estimate lands within the band of what the
worker records, usage adds up to it, a run whose call would pass what is left of
the budget fails without the provider seeing a call, and a user at the limit gets
429 on submit."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from analysis.costs.models import UserBudget
from tests.conftest import wait_until
from tests.costs.servers import BillingProvider
from tests.costs.test_estimate import BAND
from tests.operations.conftest import stack  # noqa: F401 (the fixture)
from tests.operations.stack import submit_upload
from tests.processing.media_factory import make_image

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def billing_server():
    server = BillingProvider()
    yield server
    server.stop()


def _finished(api, status_url: str) -> dict:
    wait_until(
        lambda: api.get(status_url).json()["status"] in ("completed", "failed"), 90, "the analysis"
    )
    return api.get(status_url).json()


def test_estimate_budget_and_usage_through_the_real_processes(
    stack,  # noqa: F811
    billing_server,
    tmp_path,
):
    image = make_image(tmp_path / "photo.jpg", size=(640, 360))
    stack.env.update(billing_server.env())
    stack.start_web()
    stack.start_worker()
    with stack.api() as api:
        with image.open("rb") as media:
            estimate = api.post(
                "/api/media/estimate",
                files={"file": (image.name, media)},
                data={"prompt": "What happens?", "provider": "openai"},
            )
        assert estimate.status_code == 200, estimate.text
        estimated = Decimal(estimate.json()["cost_usd"])

        accepted = submit_upload(api, image, provider="openai")
        assert accepted.status_code == 202, accepted.text
        done = _finished(api, accepted.json()["links"]["status"])
        assert done["status"] == "completed", (done["error"], stack.logs())
        recorded = Decimal(str(done["result"]["cost_usd"]))
        assert billing_server.hits == 1
        assert abs(estimated - recorded) <= BAND * recorded, (estimated, recorded)

        today = api.get("/api/usage").json()["today"]
        assert Decimal(today["spent_usd"]) == recorded
        assert sum(Decimal(line["cost_usd"]) for line in today["by_model"]) == recorded

        # What is left (a tenth of a cent) holds no call's ceiling: accepted, then
        # failed by the worker before the provider is asked.
        alice = get_user_model().objects.get(username="alice")
        UserBudget.objects.create(user=alice, daily_usd=recorded + Decimal("0.0001"))
        accepted = submit_upload(api, image, provider="openai", options=json.dumps({"force": True}))
        assert accepted.status_code == 202, accepted.text
        failed = _finished(api, accepted.json()["links"]["status"])
        assert failed["status"] == "failed"
        assert failed["error"]["code"] == "budget_exceeded", failed["error"]
        assert billing_server.hits == 1  # the provider saw no second call

        # At the limit: refused on submit, with when it resets.
        UserBudget.objects.filter(user=alice).update(daily_usd=recorded)
        refused = submit_upload(api, image, provider="openai")
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "budget_exceeded"
        assert refused.json()["error"]["resets_at"].endswith("+00:00")
        assert int(refused.headers["Retry-After"]) > 0

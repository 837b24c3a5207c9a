"""A CI-sized load smoke test: 100 concurrent clients for about 20 s against
gunicorn, a Celery worker and beat as shipped, mixing status polls, history
pages, submissions (uploads of a real image and URLs), retries, cancels and
deletes. Nothing answers 5xx, and every request acknowledged with 202 ends in a
terminal state, exactly once. The full-size runs, with their figures, live in
``benchmarks/``."""

from __future__ import annotations

import asyncio
import collections
import random
import time

import httpx
import pytest
from django.db.models import Count

from analysis.models import AnalysisRequest, AnalysisResult
from tests.conftest import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIENTS = 100
SECONDS = 20
TERMINAL = {"completed", "failed", "cancelled", "deleted"}


class Tally:
    def __init__(self) -> None:
        self.by_status: collections.Counter[tuple[str, int]] = collections.Counter()
        self.accepted: list[str] = []

    def note(self, kind: str, response: httpx.Response) -> None:
        self.by_status[(kind, response.status_code)] += 1

    @property
    def server_errors(self) -> dict[tuple[str, int], int]:
        return {key: n for key, n in self.by_status.items() if key[1] >= 500}


async def _submit(number: int, api: httpx.AsyncClient, image: bytes) -> httpx.Response:
    if number % 2:
        files = {"file": ("photo.jpg", image, "image/jpeg")}
        return await api.post("/api/media/analyze", files=files, data={"prompt": "Describe"})
    # A URL nothing answers on: accepted, then failed by the worker's download.
    body = {"media_url": "http://127.0.0.1:9/clip.mp4", "prompt": "Describe"}
    return await api.post("/api/media/analyze", json=body)


async def _client(number: int, api: httpx.AsyncClient, image: bytes, tally: Tally, until: float):
    """One client: a submission, then about 75 % status polls of its request, 20 %
    history pages and 5 % retries, cancels and deletes."""
    rng = random.Random(number)  # noqa: S311 (a load mix, not a secret)
    response = await _submit(number, api, image)
    tally.note("submit", response)
    if response.status_code != 202:
        return
    mine = response.json()["id"]
    tally.accepted.append(mine)
    while time.monotonic() < until:
        roll = rng.random()
        if roll < 0.05:
            action = rng.choice(["retry", "cancel", "delete"])
            if action == "delete":
                response = await api.delete(f"/api/media/{mine}")
            else:
                response = await api.post(f"/api/media/{mine}/{action}")
            tally.note(action, response)
        elif roll < 0.25:
            query = rng.choice([{"page_size": 20}, {"status": "completed"}, {"search": "Desc"}])
            response = await api.get("/api/media/history", params=query)
            tally.note("history", response)
        else:
            response = await api.get(f"/api/media/status/{mine}")
            tally.note("status", response)


async def _load(url: str, token: str, image: bytes) -> Tally:
    tally = Tally()
    # A client of its own (one connection) per caller: one shared pool of 100 costs
    # httpcore a scan of every connection per request, making the load generator the
    # bottleneck. Idle connections are dropped after 2 s, before gunicorn's 5 s
    # keep-alive closes them (both at 5 s, a request can race the server's close).
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=2.0)
    headers = {"Authorization": f"Token {token}"}
    apis = [
        httpx.AsyncClient(base_url=url, headers=headers, timeout=30, limits=limits)
        for _ in range(CLIENTS)
    ]
    until = time.monotonic() + SECONDS
    try:
        await asyncio.gather(*(_client(n, apis[n], image, tally, until) for n in range(CLIENTS)))
    finally:
        for api in apis:
            await api.aclose()
    return tally


def test_a_hundred_clients_get_no_5xx_and_every_202_ends_once(stack, image):
    stack.env.update(
        {
            "API_THROTTLE_READ_RATE": "100000/min",  # one token for all: not what is tested
            "API_THROTTLE_WRITE_RATE": "100000/min",
            "GUNICORN_WORKERS": "2",
            "GUNICORN_THREADS": "8",
            "MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS": "true",  # the URL half: 127.0.0.1
        }
    )
    stack.start_web()
    stack.start_worker()
    stack.start_beat()
    with stack.api():
        token = stack.token
    tally = asyncio.run(_load(stack.url, token, image.read_bytes()))

    print(
        f"\nload smoke: {sum(tally.by_status.values())} requests; {sorted(tally.by_status.items())}"
    )
    assert tally.server_errors == {}, tally.by_status
    assert len(tally.accepted) == CLIENTS
    assert {kind for kind, _ in tally.by_status} >= {"submit", "status", "history"}

    def every_one_ended() -> bool:
        states = AnalysisRequest.objects.filter(pk__in=tally.accepted).values_list(
            "status", flat=True
        )
        return all(state in TERMINAL for state in states)

    wait_until(every_one_ended, 60, "every accepted request to reach a terminal state", every=1)
    assert AnalysisRequest.objects.filter(pk__in=tally.accepted).count() == len(tally.accepted)
    # Exactly once: never two results for one request.
    doubled = (
        AnalysisResult.objects.filter(request_id__in=tally.accepted)
        .values("request_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert list(doubled) == []

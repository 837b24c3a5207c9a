"""The mixed API load of issue 12, as a library: closed-loop async clients (httpx)
against a running service, each recording latency and status per kind of request.

Not a benchmark itself: ``mixed_load.py`` (the 5-minute mix, pool saturation) and
``web_soak_rss.py`` run it against gunicorn, a Celery worker and beat started as
shipped (``mix_stack.py``); fault scenarios can run it too::

    from load_mix import MixTargets, run_mix, wait_terminal, print_report
    report = run_mix(url, token, clients=100, seconds=60, targets=targets,
                     connections=database.connections, metrics_token=stack.metrics_token)
    wait_terminal(report, database.url, timeout=120)
    print_report(report)
    problems = report.problems()  # 5xx, 503 without Retry-After, lost requests ...

To do something mid-run (kill Redis, SIGKILL the worker), start a
``threading.Timer`` before ``run_mix``; ``report.timeline`` (one entry per second:
answers by class and their mean latency) then shows the dip and the recovery.

The mix (``DEFAULT_SHARES``): 70 % status polls of one of the client's own
requests, 15 % history pages, 10 % submissions (half uploads of real small media,
half URLs on a local server, a tenth of those a URL that 404s so the worker fails
it), 5 % transitions chosen by what the request last showed: retry a failed or
cancelled one, cancel a pending or processing one, delete a completed one. A client
with no request of its own yet submits first. Expected refusals (a 409 when the
request moved on meanwhile, a 404 polling a deleted one) are counted by status,
not hidden.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
from mix_media import Upload
from mix_report import (
    KINDS,
    TERMINAL,
    KindStats,
    MixReport,
    TerminalCheck,
    print_report,
    timeline_rows,
    wait_terminal,
)

# The whole API, the report's half re-exported, so callers import from here alone.
__all__ = [
    "DEFAULT_SHARES",
    "KINDS",
    "TERMINAL",
    "KindStats",
    "MixReport",
    "MixTargets",
    "TerminalCheck",
    "print_report",
    "run_mix",
    "run_mix_async",
    "timeline_rows",
    "wait_terminal",
]

# Shares of the mix by group: submissions split into uploads and URLs, transitions
# into retries, cancels and deletes by the request's state.
DEFAULT_SHARES = {"status": 0.70, "history": 0.15, "submit": 0.10, "transition": 0.05}
HISTORY_QUERIES = (
    {"page_size": "20"},
    {"status": "completed"},
    {"search": "Describe"},
    {"page": "2", "page_size": "10"},
)
# A client keeps polling and acting on its last few requests only; older ones are
# still checked for a terminal state at the end.
TRACKED_PER_CLIENT = 8
# After a transport error (connection refused in a fault scenario) a client waits a
# moment instead of spinning.
ERROR_PAUSE = 0.05


@dataclass(frozen=True)
class MixTargets:
    """What submissions send: files to upload, URLs that serve real media, and one
    URL that does not (the worker fails those; ``missing_share`` of URL submissions)."""

    uploads: Sequence[Upload]
    urls: Sequence[str]
    missing_url: str | None = None
    missing_share: float = 0.1


# ----------------------------------------------------------------------- clients
@dataclass
class _Tracked:
    id: str
    status: str = "pending"


def _status_class(code: int) -> str:
    return "503" if code == 503 else f"{code // 100}xx"


class _Recorder:
    """Everything a client sees goes through here (one event loop: no locks)."""

    def __init__(self, report: MixReport, started: float):
        self.report = report
        self.started = started

    def _second(self) -> collections.Counter:
        index = int(time.monotonic() - self.started)
        timeline = self.report.timeline
        while len(timeline) <= index:
            timeline.append(collections.Counter())
        return timeline[index]

    async def send(self, kind: str, request) -> httpx.Response | None:
        """Await ``request`` (an httpx coroutine), record it under ``kind``; None on a
        transport error."""
        stats = self.report.kinds[kind]
        began = time.monotonic()
        try:
            response = await request
        except httpx.HTTPError as exc:
            stats.transport_errors[type(exc).__name__] += 1
            self._second()["error"] += 1
            await asyncio.sleep(ERROR_PAUSE)
            return None
        took = time.monotonic() - began
        stats.latencies.append(took)
        stats.statuses[response.status_code] += 1
        second = self._second()
        second[_status_class(response.status_code)] += 1
        second["latency_sum"] += took
        if response.status_code >= 400:
            self._note_error(response)
        return response

    def _note_error(self, response: httpx.Response) -> None:
        code = response.status_code
        if code in (429, 503) and not response.headers.get("Retry-After"):
            self.report.missing_retry_after += 1
        try:
            error = response.json().get("error", {}).get("code", "?")
        except (ValueError, AttributeError):
            error = "not-json"
        self.report.error_codes[(code, str(error))] += 1


class _Client:
    def __init__(self, number: int, api: httpx.AsyncClient, targets: MixTargets, rec: _Recorder):
        self.rng = random.Random(number)  # a load mix, not a secret
        self.api, self.targets, self.rec = api, targets, rec
        self.mine: list[_Tracked] = []

    async def run(self, until: float, shares: dict[str, float], think: float) -> None:
        groups, weights = list(shares), list(shares.values())
        while time.monotonic() < until:
            group = "submit" if not self.mine else self.rng.choices(groups, weights)[0]
            await getattr(self, group)()
            if think:
                await asyncio.sleep(think)

    def _accept(self, response: httpx.Response | None) -> None:
        if response is not None and response.status_code == 202:
            request_id = response.json()["id"]
            self.rec.report.accepted.add(request_id)
            self.mine = [t for t in self.mine if t.id != request_id]
            self.mine.append(_Tracked(request_id))
            del self.mine[:-TRACKED_PER_CLIENT]

    async def submit(self) -> None:
        rng, targets = self.rng, self.targets
        if targets.urls and (not targets.uploads or rng.random() < 0.5):
            missing = targets.missing_url and rng.random() < targets.missing_share
            url = targets.missing_url if missing else rng.choice(targets.urls)
            body = {"media_url": url, "prompt": "Describe this."}
            self._accept(
                await self.rec.send("submit_url", self.api.post("/api/media/analyze", json=body))
            )
            return
        upload = rng.choice(targets.uploads)
        files = {"file": (upload.name, upload.data, upload.content_type)}
        request = self.api.post(
            "/api/media/analyze", files=files, data={"prompt": "Describe this."}
        )
        self._accept(await self.rec.send("submit_upload", request))

    def _pick(self) -> _Tracked:
        # Mostly the newest, as a client polls the request it just made.
        return self.mine[-1] if self.rng.random() < 0.5 else self.rng.choice(self.mine)

    async def status(self) -> None:
        tracked = self._pick()
        response = await self.rec.send("status", self.api.get(f"/api/media/status/{tracked.id}"))
        if response is None:
            return
        if response.status_code == 200:
            tracked.status = response.json().get("status", tracked.status)
            source = response.headers.get("X-Data-Source")
            if source:
                self.rec.report.data_sources[source] += 1
        elif response.status_code == 404:
            self.mine.remove(tracked)  # deleted meanwhile (by this client)

    async def history(self) -> None:
        query = self.rng.choice(HISTORY_QUERIES)
        await self.rec.send("history", self.api.get("/api/media/history", params=query))

    async def transition(self) -> None:
        tracked = self._pick()
        if tracked.status in ("failed", "cancelled"):
            response = await self.rec.send("retry", self.api.post(f"/api/media/{tracked.id}/retry"))
            self._accept(response)
        elif tracked.status == "completed":
            response = await self.rec.send("delete", self.api.delete(f"/api/media/{tracked.id}"))
            if response is not None and response.status_code == 204:
                self.mine.remove(tracked)
        else:
            response = await self.rec.send(
                "cancel", self.api.post(f"/api/media/{tracked.id}/cancel")
            )
            if response is not None and response.status_code == 200:
                tracked.status = response.json().get("status", "cancelled")


# ------------------------------------------------------------------- the run
_METRIC_LINE = re.compile(r'^media_analysis_cache_(lookups|misses)_total\{kind="status"\} (\S+)$')


async def _status_cache_counts(api: httpx.AsyncClient, token: str) -> tuple[float, float] | None:
    """(lookups, misses) of the status cache from /metrics, all workers summed."""
    try:
        response = await api.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    found = {}
    for line in response.text.splitlines():
        match = _METRIC_LINE.match(line)
        if match:
            found[match.group(1)] = float(match.group(2))
    return (found["lookups"], found["misses"]) if len(found) == 2 else None


def _sample_connections(
    connections: Callable[[], int], report: MixReport, stop: threading.Event, every: float
) -> None:
    while not stop.is_set():
        # A failed sample (the admin connection busy or gone) must not end the run.
        with contextlib.suppress(Exception):
            report.connection_samples.append(connections())
        stop.wait(every)


async def run_mix_async(
    base_url: str,
    token: str,
    *,
    clients: int,
    seconds: float,
    targets: MixTargets,
    label: str = "mix",
    shares: dict[str, float] | None = None,
    think: float = 0.0,
    timeout: float = 30.0,
    connections: Callable[[], int] | None = None,
    sample_every: float = 0.5,
    metrics_token: str | None = None,
) -> MixReport:
    """The mix, ``clients`` closed-loop clients for ``seconds``; see :func:`run_mix`."""
    report = MixReport(label=label, clients=clients)
    headers = {"Authorization": f"Token {token}"}

    def session(connections: int) -> httpx.AsyncClient:
        # A connection idle in the pool is dropped after 2 s, before the server's 5 s
        # keep-alive (GUNICORN_KEEPALIVE) closes it: with both at 5 s (httpx's
        # default) a request sent just as the server closes fails with ReadError, a
        # client race that says nothing about the service.
        limits = httpx.Limits(
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=2.0,
        )
        return httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout, limits=limits)

    # One HTTP client (one connection) per load client, as 100 real callers would
    # have: httpcore's pool checks every one of its connections on every request,
    # so one shared pool of 100 cost the load generator ~15 ms of CPU per request
    # and made it, not the service, the bottleneck (py-spy: 60 % of its time in
    # _assign_requests_to_connections).
    apis = [session(1) for _ in range(clients)]
    async with session(2) as api:
        before = await _status_cache_counts(api, metrics_token) if metrics_token else None
        stop = threading.Event()
        sampler = None
        if connections is not None:
            sampler = threading.Thread(
                target=_sample_connections,
                args=(connections, report, stop, sample_every),
                daemon=True,
            )
            sampler.start()
        started = time.monotonic()
        recorder = _Recorder(report, started)
        until = started + seconds
        mix = shares or DEFAULT_SHARES
        try:
            await asyncio.gather(
                *(
                    _Client(n, apis[n], targets, recorder).run(until, mix, think)
                    for n in range(clients)
                )
            )
        finally:
            report.seconds = time.monotonic() - started
            stop.set()
            if sampler is not None:
                sampler.join()
            for each in apis:
                await each.aclose()
        if report.connection_samples:
            report.peak_connections = max(report.connection_samples)
        after = await _status_cache_counts(api, metrics_token) if metrics_token else None
    if before and after and after[0] > before[0]:
        lookups, misses = after[0] - before[0], after[1] - before[1]
        report.metrics_lookups = int(lookups)
        report.metrics_hit_rate = 1 - misses / lookups
    return report


def run_mix(base_url: str, token: str, **options) -> MixReport:
    """Run the mix and return its report (blocking).

    Options: ``clients`` and ``seconds`` (required); ``targets`` (a
    :class:`MixTargets`); ``label``; ``shares`` (default ``DEFAULT_SHARES``);
    ``think`` (seconds a client pauses between requests, 0: as fast as answered);
    ``timeout`` (per request); ``connections`` (a callable returning the database's
    current connection count, sampled every ``sample_every`` s in a thread: e.g.
    ``BenchDatabase.connections``; the peak lands in ``peak_connections``);
    ``metrics_token`` (METRICS_TOKEN of the service: the status cache's hit rate is
    also read from ``/metrics``).
    """
    return asyncio.run(run_mix_async(base_url, token, **options))

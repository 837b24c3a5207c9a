"""``/metrics``: django-prometheus's page plus the service's own gauges.

The extra families are computed when scraped, from shared state, so every gunicorn
worker reports the same numbers (they are not per-process counters):

- ``media_analysis_cache_lookups_total`` / ``_misses_total`` / ``_hit_ratio`` by kind
  (status, history, token), from counters kept in Redis;
- ``media_analysis_circuit_breaker_state`` (0 closed, 1 half-open, 2 open);
- ``media_analysis_requests`` by status and provider, and the results' tokens and
  cost by provider, from PostgreSQL (at most one pair of queries per
  ``SCRAPE_CACHE_SECONDS``, through the database breaker);
- ``media_analysis_queue_depth`` per Celery queue, from the broker.
- ``media_analysis_webhook_*``: attempts by outcome, attempt and delivery
  latency, from counters kept in Redis (analysis/webhooks/metrics.py).
- ``media_analysis_backup_*``: the newest good backup's time, age, duration and
  size, failures, staleness, from ``backup_runs`` (storage_app/backup/status.py).

With ``PROMETHEUS_MULTIPROC_DIR`` set, django-prometheus exports only the
multiprocess registry; this view appends these families to either.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from typing import Any

import prometheus_client
from django.conf import settings
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from analysis import cache
from analysis.api.authentication import HashedTokenAuthentication
from analysis.models import AnalysisRequest, AnalysisResult
from analysis.webhooks.metrics import metric_families as webhook_metric_families
from media_analysis.resilience import STATE_VALUES, breaker_states, call_database
from storage_app.backup.status import metric_families
from storage_app.disk import refresh_category_gauges_if_due

logger = logging.getLogger(__name__)

SCRAPE_CACHE_SECONDS = 30

_lock = threading.Lock()
_domain_cache: dict[str, Any] = {"at": 0.0, "value": None}


def _domain_counts() -> dict[str, Any] | None:
    def query() -> dict[str, Any]:
        requests = list(
            AnalysisRequest.objects.order_by().values("status", "provider").annotate(n=Count("id"))
        )
        results = list(
            AnalysisResult.objects.order_by()
            .values("provider")
            .annotate(input=Sum("input_tokens"), output=Sum("output_tokens"), cost=Sum("cost_usd"))
        )
        return {"requests": requests, "results": results}

    with _lock:
        if time.monotonic() - _domain_cache["at"] < SCRAPE_CACHE_SECONDS:
            return _domain_cache["value"]
        try:
            value = call_database(query)
        except Exception:
            logger.warning("metrics: database counts unavailable")
            value = None
        _domain_cache.update(at=time.monotonic(), value=value)
        return value


def _queue_depths() -> dict[str, int]:
    import redis

    url = settings.CELERY_BROKER_URL
    if url.startswith("redis+socket://"):
        url = "unix://" + url[len("redis+socket://") :]
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return {}
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        with client:
            queues = [queue.name for queue in settings.CELERY_TASK_QUEUES]
            return {queue: int(client.llen(queue)) for queue in queues}
    except (redis.RedisError, OSError):
        return {}


class ServiceCollector:
    def collect(self):
        stats = cache.cache_stats()
        lookups = CounterMetricFamily(
            "media_analysis_cache_lookups", "API cache lookups (all processes).", labels=["kind"]
        )
        misses = CounterMetricFamily(
            "media_analysis_cache_misses", "API cache misses (all processes).", labels=["kind"]
        )
        ratio = GaugeMetricFamily(
            "media_analysis_cache_hit_ratio", "Hits / lookups.", labels=["kind"]
        )
        for kind, counts in stats.items():
            lookups.add_metric([kind], counts["lookups"])
            misses.add_metric([kind], counts["misses"])
            if counts["lookups"]:
                ratio.add_metric([kind], counts["hits"] / counts["lookups"])
        yield from (lookups, misses, ratio)

        breakers = GaugeMetricFamily(
            "media_analysis_circuit_breaker_state",
            "0 closed, 1 half-open, 2 open.",
            labels=["breaker"],
        )
        for name, state in breaker_states().items():
            breakers.add_metric([name], STATE_VALUES.get(state, 2))
        yield breakers

        depth = GaugeMetricFamily(
            "media_analysis_queue_depth", "Messages waiting.", labels=["queue"]
        )
        for queue, length in _queue_depths().items():
            depth.add_metric([queue], length)
        yield depth

        yield from metric_families()
        yield from webhook_metric_families()

        counts = _domain_counts()
        if counts is None:
            return
        requests = GaugeMetricFamily(
            "media_analysis_requests",
            "Analysis requests by status and provider.",
            labels=["status", "provider"],
        )
        for row in counts["requests"]:
            requests.add_metric([row["status"], row["provider"] or ""], row["n"])
        tokens = CounterMetricFamily(
            "media_analysis_result_tokens",
            "Tokens used by results.",
            labels=["provider", "direction"],
        )
        cost = CounterMetricFamily(
            "media_analysis_result_cost_usd", "Cost of results (USD).", labels=["provider"]
        )
        for row in counts["results"]:
            provider = row["provider"] or ""
            tokens.add_metric([provider, "input"], row["input"] or 0)
            tokens.add_metric([provider, "output"], row["output"] or 0)
            cost.add_metric([provider], float(row["cost"] or 0))
        yield from (requests, tokens, cost)


SERVICE_REGISTRY = prometheus_client.CollectorRegistry(auto_describe=False)
SERVICE_REGISTRY.register(ServiceCollector())


def may_scrape(request: HttpRequest) -> bool:
    """Only health answers without credentials. A scraper presents the shared
    ``METRICS_TOKEN`` as a bearer token; staff may use their API token or admin
    session."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    keyword, _, presented = header.strip().partition(" ")
    if (
        settings.METRICS_TOKEN
        and keyword.lower() == "bearer"
        and hmac.compare_digest(presented.strip().encode(), settings.METRICS_TOKEN.encode())
    ):
        return True
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    if not header:
        return False
    from rest_framework.exceptions import AuthenticationFailed
    from rest_framework.request import Request

    try:
        found = HashedTokenAuthentication().authenticate(Request(request))
    except AuthenticationFailed:
        return False
    return found is not None and found[0].is_staff


def export(request: HttpRequest) -> HttpResponse:
    if not may_scrape(request):
        response = JsonResponse(
            {
                "error": {
                    "code": "not_authenticated",
                    "message": "Metrics need the METRICS_TOKEN as a bearer token, or a staff API token.",
                }
            },
            status=401,
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    # Per-category storage sums cost a query: refreshed by scrapes (not by readiness
    # probes, which must not wait on the database for a metric).
    refresh_category_gauges_if_due()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        base = prometheus_client.CollectorRegistry()
        MultiProcessCollector(base)
    else:
        base = prometheus_client.REGISTRY
    page = prometheus_client.generate_latest(base) + prometheus_client.generate_latest(
        SERVICE_REGISTRY
    )
    return HttpResponse(page, content_type=prometheus_client.CONTENT_TYPE_LATEST)

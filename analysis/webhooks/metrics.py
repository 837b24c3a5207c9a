"""Webhook metrics, shared by every process through Redis.

Attempts run in Celery workers while ``/metrics`` is served by the web, so the
counts live where every process sees them (as the cache's hit counters do,
``analysis.cache.cache_stats``) and are turned into metric families when scraped
(``analysis.api.metrics.ServiceCollector``):

- ``media_analysis_webhook_deliveries_total{outcome}``: attempts by outcome
  (delivered, retrying, gave_up, disabled);
- ``media_analysis_webhook_attempt_seconds``: how long one attempt took (histogram);
- ``media_analysis_webhook_delivery_latency_seconds``: from the event to the
  receiver's 2xx, retries included (histogram).

Redis away: the counts of that moment are lost, the delivery is not affected.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

from analysis.cache import key
from media_analysis.resilience import redis_call

ATTEMPT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LATENCY_BUCKETS = (0.5, 1.0, 5.0, 30.0, 120.0, 600.0, 3600.0, 6 * 3600.0, 24 * 3600.0)
HISTOGRAMS = {
    "attempt": ("media_analysis_webhook_attempt_seconds", "One webhook attempt.", ATTEMPT_BUCKETS),
    "latency": (
        "media_analysis_webhook_delivery_latency_seconds",
        "From the event to its delivery (2xx), retries included.",
        LATENCY_BUCKETS,
    ),
}


def _key() -> str:
    return key("webhooks", "metrics")


def record_attempt(outcome: str, seconds: float, *, delivered_after: float | None) -> None:
    def write(client) -> None:
        pipe = client.pipeline(transaction=False)
        pipe.hincrby(_key(), f"outcome:{outcome}", 1)
        _observe(pipe, "attempt", seconds)
        if delivered_after is not None:
            _observe(pipe, "latency", delivered_after)
        pipe.execute()

    redis_call(write)


def _observe(pipe, name: str, value: float) -> None:
    buckets = HISTOGRAMS[name][2]
    bucket = next((str(bound) for bound in buckets if value <= bound), "+Inf")
    pipe.hincrby(_key(), f"{name}:bucket:{bucket}", 1)
    pipe.hincrbyfloat(_key(), f"{name}:sum", value)


def metric_families() -> Iterator[CounterMetricFamily | HistogramMetricFamily]:
    raw = redis_call(lambda client: client.hgetall(_key()), default={}) or {}
    values = {name.decode(): value for name, value in raw.items()}
    deliveries = CounterMetricFamily(
        "media_analysis_webhook_deliveries",
        "Webhook attempts by outcome (all processes).",
        labels=["outcome"],
    )
    for field, value in sorted(values.items()):
        if field.startswith("outcome:"):
            deliveries.add_metric([field.removeprefix("outcome:")], int(value))
    yield deliveries
    for name, (metric, help_text, buckets) in HISTOGRAMS.items():
        cumulative, rows = 0, []
        for bound in (*map(str, buckets), "+Inf"):
            cumulative += int(values.get(f"{name}:bucket:{bound}", 0))
            rows.append((bound, cumulative))
        yield HistogramMetricFamily(
            metric, help_text, buckets=rows, sum_value=float(values.get(f"{name}:sum", 0))
        )

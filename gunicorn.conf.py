"""gunicorn settings, all from the environment (documented in .env.example).

gthread workers: each worker process has its own database pool, and at most
``threads`` requests use it at once. See docs/database-pool.md for how workers,
threads and the pool add up against PostgreSQL's max_connections.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise SystemExit(f"{name}={value!r} must be a positive integer")
    return int(value)


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise SystemExit(f"{name}={value!r} must be true or false")
    return value in ("1", "true", "yes", "on")


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = _int("GUNICORN_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 8))
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 4)
timeout = _int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Worker recycling is a last guard against a leak, not a routine: a recycled worker
# re-imports Django and warms up again, and under load a low limit (it was 2,000)
# recycles every worker every second or two, halving throughput and pushing the
# p99 to half a second. Memory stays flat without it (benchmarks/web_soak_rss.py:
# a 10-minute mixed load grows each worker's RSS by a few percent at most), so the
# limit is high; the jitter keeps the workers from recycling at the same moment.
max_requests = _int("GUNICORN_MAX_REQUESTS", 100_000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 10_000)
# Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads
# new connections evenly over them. With one shared socket, long-lived keep-alive
# connections stay with whichever worker accepted them first: 100 connections were
# seen split 94/6, one worker queueing while the other idled (half the throughput,
# twice the p99). The cost: starting a second server on the same port by mistake
# shares the port instead of failing, and connections still waiting in a recycled
# worker's queue are reset.
reuse_port = _bool("GUNICORN_REUSE_PORT", True)
# Uploads are streamed to disk by Django; no need for gunicorn to buffer them.
limit_request_line = 8190

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
# The request and correlation ids are response headers set by our middleware,
# so one line here can be joined with the application's logs. With LOG_FORMAT=json
# (the default) every gunicorn line, access and error, is one JSON object too.
access_log_format = (
    '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s '
    "correlation_id=%({x-correlation-id}o)s"
)
if os.environ.get("LOG_FORMAT", "json").strip().lower() == "json":
    logger_class = "media_analysis.gunicorn_logging.JsonLogger"
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
# Connections must not be opened before the fork: each worker builds its own pool.
preload_app = False
# gunicorn 27's control socket ($HOME/.gunicorn/gunicorn.ctl) is unused here, and
# several servers on one host (or a read-only home in the image) would share it.
control_socket_disable = True


def on_starting(server):
    # With several workers, Prometheus metrics are aggregated through files in this
    # folder: it must exist before a worker counts anything, and start empty (the
    # files of a previous run's workers would be added to this run's totals).
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if folder:
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.remove(os.path.join(folder, name))


def child_exit(server, worker):
    # With several workers, Prometheus metrics are aggregated through files.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker):
    # The JSON logger writes access lines in batches: what is queued is written
    # before the worker goes (media_analysis/gunicorn_logging.py).
    flush = getattr(worker.log, "flush_access_lines", None)
    if flush is not None:
        flush()

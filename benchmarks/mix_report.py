"""What a run of the mixed load recorded (``MixReport``), where its acknowledged
requests ended (``wait_terminal``), and the report as tables (``print_report``).

Not a benchmark itself: ``load_mix.py`` fills these and re-exports them, so callers
import everything from there.
"""

from __future__ import annotations

import collections
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

KINDS = ("status", "history", "submit_upload", "submit_url", "retry", "cancel", "delete")
TERMINAL = frozenset({"completed", "failed", "cancelled", "deleted"})


@dataclass
class KindStats:
    latencies: list[float] = field(default_factory=list)  # seconds, answered requests
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    transport_errors: collections.Counter[str] = field(default_factory=collections.Counter)

    @property
    def answered(self) -> int:
        return len(self.latencies)

    def percentile_ms(self, fraction: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


@dataclass
class TerminalCheck:
    """Where every request acknowledged with 202 ended, read from PostgreSQL."""

    accepted: int
    by_state: dict[str, int]
    not_terminal: list[str]  # ids, up to 20
    missing: int  # acknowledged but no row at all
    doubled: int  # requests with more than one result row
    waited: float
    not_terminal_count: int = 0  # all of them

    @property
    def all_terminal_once(self) -> bool:
        return not self.not_terminal and not self.missing and not self.doubled


@dataclass
class MixReport:
    label: str
    clients: int
    seconds: float = 0.0
    kinds: dict[str, KindStats] = field(default_factory=lambda: {k: KindStats() for k in KINDS})
    error_codes: collections.Counter[tuple[int, str]] = field(default_factory=collections.Counter)
    missing_retry_after: int = 0  # 503 or 429 answers without a Retry-After header
    accepted: set[str] = field(default_factory=set)
    data_sources: collections.Counter[str] = field(default_factory=collections.Counter)
    metrics_hit_rate: float | None = None
    metrics_lookups: int | None = None
    peak_connections: int | None = None
    connection_samples: list[int] = field(default_factory=list)
    # One entry per second of the run: answers by class ("2xx", "3xx", "4xx", "503",
    # "5xx", "error") and "latency_sum" of the answered ones.
    timeline: list[collections.Counter] = field(default_factory=list)
    terminal: TerminalCheck | None = None

    @property
    def requests(self) -> int:
        return sum(s.answered + sum(s.transport_errors.values()) for s in self.kinds.values())

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def count(self, predicate: Callable[[int], bool]) -> int:
        return sum(
            n for s in self.kinds.values() for code, n in s.statuses.items() if predicate(code)
        )

    @property
    def server_errors(self) -> int:
        """5xx answers other than 503 (which, with Retry-After, is the designed refusal)."""
        return self.count(lambda code: code >= 500 and code != 503)

    @property
    def unavailable(self) -> int:
        return self.count(lambda code: code == 503)

    @property
    def transport_errors(self) -> int:
        return sum(sum(s.transport_errors.values()) for s in self.kinds.values())

    @property
    def status_cache_hit_rate(self) -> float | None:
        polls = self.data_sources["cache"] + self.data_sources["database"]
        return self.data_sources["cache"] / polls if polls else None

    def all_latencies(self) -> KindStats:
        merged = KindStats()
        for stats in self.kinds.values():
            merged.latencies += stats.latencies
        return merged

    def problems(self, *, allow_503: bool = False) -> list[str]:
        """What breaks issue 12's rules: any 5xx (503 too unless ``allow_503``), a
        503/429 without Retry-After, a transport error, and, once ``wait_terminal``
        ran, an accepted request not terminal, missing, or with two results."""
        found = []
        if self.server_errors:
            found.append(f"{self.server_errors} 5xx answers other than 503")
        if self.unavailable and not allow_503:
            found.append(f"{self.unavailable} 503 answers")
        if self.missing_retry_after:
            found.append(f"{self.missing_retry_after} 503/429 answers without Retry-After")
        if self.transport_errors:
            found.append(f"{self.transport_errors} transport errors")
        if self.terminal is not None and not self.terminal.all_terminal_once:
            t = self.terminal
            found.append(
                f"accepted requests: {t.not_terminal_count} not terminal, {t.missing} missing,"
                f" {t.doubled} with two results"
            )
        return found


# ------------------------------------------------------------- terminal states
def wait_terminal(report: MixReport, database_url: str, timeout: float = 300.0) -> TerminalCheck:
    """Wait up to ``timeout`` s for every request ``report`` saw acknowledged (202)
    to reach a terminal state in PostgreSQL, then record where each ended, and
    whether any has two result rows, in ``report.terminal``."""
    import uuid

    import psycopg

    ids = [uuid.UUID(value) for value in report.accepted]
    began = time.monotonic()
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            rows = conn.execute(
                "SELECT id::text, status FROM media_analysis_requests WHERE id = ANY(%s)", [ids]
            ).fetchall()
            waiting = [rid for rid, state in rows if state not in TERMINAL]
            if not waiting or time.monotonic() - began > timeout:
                break
            time.sleep(1.0)
        doubled = conn.execute(
            "SELECT count(*) FROM (SELECT request_id FROM media_analysis_results"
            " WHERE request_id = ANY(%s) GROUP BY request_id HAVING count(*) > 1) AS d",
            [ids],
        ).fetchone()[0]
    report.terminal = TerminalCheck(
        accepted=len(ids),
        by_state=dict(collections.Counter(state for _, state in rows)),
        not_terminal=sorted(waiting)[:20] if waiting else [],
        missing=len(ids) - len(rows),
        doubled=int(doubled),
        waited=time.monotonic() - began,
        not_terminal_count=len(waiting),
    )
    return report.terminal


# ---------------------------------------------------------------------- report
def print_report(report: MixReport, out: TextIO = sys.stdout) -> None:
    """The report as tables: per kind, errors by status, cache, connections, 202s."""
    write = lambda text="": print(text, file=out)  # noqa: E731
    write(
        f"{report.label}: {report.clients} clients, {report.seconds:.1f} s,"
        f" {report.requests} requests, {report.rate:.1f} req/s"
    )
    write(
        f"  {'kind':<14}{'requests':>9}{'share':>7}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}  statuses"
    )
    total = max(report.requests, 1)
    rows = [(kind, report.kinds[kind]) for kind in KINDS] + [("all", report.all_latencies())]
    for kind, stats in rows:
        count = stats.answered + sum(stats.transport_errors.values())
        if kind == "all":
            count = report.requests
        if not count:
            continue
        codes = " ".join(f"{code}:{n}" for code, n in sorted(stats.statuses.items()))
        errors = " ".join(f"{name}:{n}" for name, n in stats.transport_errors.items())
        write(
            f"  {kind:<14}{count:>9}{count / total:>7.1%}{count / max(report.seconds, 1e-9):>8.1f}"
            f"{stats.percentile_ms(0.50):>9.1f}{stats.percentile_ms(0.95):>9.1f}"
            f"{stats.percentile_ms(0.99):>9.1f}  {codes} {errors}".rstrip()
        )
    by_status = collections.Counter()
    for (code, _), n in report.error_codes.items():
        by_status[code] += n
    write(
        "  errors by status: "
        + (", ".join(f"{code}: {n}" for code, n in sorted(by_status.items())) or "none")
        + f"; 5xx other than 503: {report.server_errors}; transport errors: {report.transport_errors}"
    )
    if report.error_codes:
        codes = ", ".join(
            f"{status} {code} x{n}" for (status, code), n in sorted(report.error_codes.items())
        )
        write(f"  error codes: {codes}")
    if report.unavailable or report.missing_retry_after:
        write(
            f"  503 answers: {report.unavailable}, without Retry-After: {report.missing_retry_after}"
        )
    rate = report.status_cache_hit_rate
    sources = report.data_sources
    line = "  status cache hit rate: "
    line += (
        f"{rate:.1%} (X-Data-Source cache {sources['cache']} / database {sources['database']})"
        if rate is not None
        else "n/a"
    )
    if report.metrics_hit_rate is not None:
        line += f"; /metrics: {report.metrics_hit_rate:.1%} of {report.metrics_lookups} lookups"
    write(line)
    if report.peak_connections is not None:
        samples = report.connection_samples
        write(
            f"  PostgreSQL connections: peak {report.peak_connections}, mean {sum(samples) / len(samples):.1f} ({len(samples)} samples)"
        )
    check = report.terminal
    if check is None:
        write(f"  accepted (202): {len(report.accepted)} requests (terminal states not checked)")
        return
    states = ", ".join(f"{state} {n}" for state, n in sorted(check.by_state.items()))
    write(
        f"  accepted (202): {check.accepted} requests -> {states}; not terminal {check.not_terminal_count},"
        f" missing {check.missing}, with two results {check.doubled} (waited {check.waited:.0f} s)"
    )
    if check.not_terminal:
        write(f"    not terminal, e.g.: {', '.join(check.not_terminal[:5])}")


def timeline_rows(report: MixReport, every: int = 10) -> list[str]:
    """The per-second timeline folded into ``every``-second rows: rate, mean latency
    and answers by class (for a dip and its recovery)."""
    rows = []
    for start in range(0, len(report.timeline), every):
        window = collections.Counter()
        for second in report.timeline[start : start + every]:
            window.update(second)
        answered = sum(n for key, n in window.items() if key not in ("latency_sum", "error"))
        mean = window["latency_sum"] / answered * 1000 if answered else float("nan")
        classes = " ".join(f"{k}:{int(v)}" for k, v in sorted(window.items()) if k != "latency_sum")
        span = min(every, len(report.timeline) - start)
        rows.append(
            f"  {start:>4}-{start + span:<4}s {answered / span:>7.1f} req/s  mean {mean:>7.1f} ms  {classes}"
        )
    return rows

"""How far a request's analysis has come: the stage it is at and, where it is
known, a percent. Shown as the status body's ``progress``.

- **Stages** (``Stage``), in the order a run passes them: queued, downloading,
  processing, transcribing, asking_provider, recording. The pipeline's own
  stages map onto them (``FOR_PIPELINE_STAGE``): storing frames and measuring
  loudness are "processing".
- **Percent**: the bytes downloaded of a declared Content-Length (an upload is
  all there: 100), the video frames extracted of those planned; otherwise null.
- **Where it is kept**: in Redis, one key per request (``progress_key``), written
  by the run (``Tracker``) and read by the status view when it renders a body
  (``shown_for``). A write is one MULTI with the bump of the request's status
  generation (``analysis.cache``), so the cached status body is stale from that
  moment on and the cached poll path stays as it was: it reads no extra key, and
  a progress change costs one uncached poll per request at most, whatever the
  number of pollers. Writes are few: one per stage change, and percent updates
  at most once per ``PERCENT_MIN_SECONDS`` and only on a change of at least
  ``PERCENT_MIN_STEP`` points.
- **Never backwards within a run**: a tracker only moves forward, and each value
  carries its run (the request's ``started_at``): a value of an earlier run
  (before a retry, or a run whose worker died) is not shown. The first stage is
  written in the claim's transaction, so a processing request shows its run's
  stage from its first poll.
- **Best effort**: Redis down or unreachable, a write is skipped and the analysis
  goes on (``media_analysis.resilience.redis_call``); the status then shows
  ``progress: null`` for a processing request (not known), never a guess.

What the status shows: pending is ``queued`` (percent and updated_at null);
processing is the run's stage, or null when not known; a request that has ended
(completed, failed, cancelled) has ``progress: null``: its state says it all.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from django.conf import settings

from analysis import cache
from analysis.models import AnalysisRequest, AnalysisStatus
from media_analysis.resilience import redis_call

logger = logging.getLogger(__name__)

# Percent updates: at most one write a second, and only for a change of 5 points.
PERCENT_MIN_SECONDS = 1.0
PERCENT_MIN_STEP = 5
# A value outlives the longest run (the task's hard time limit) past its last write.
TTL_MARGIN_SECONDS = 600


class Stage(StrEnum):
    QUEUED = "queued"
    DOWNLOADING = "downloading"
    PROCESSING = "processing"
    TRANSCRIBING = "transcribing"
    ASKING_PROVIDER = "asking_provider"
    RECORDING = "recording"


RANK = {stage: rank for rank, stage in enumerate(Stage)}

# analysis.pipeline's stage names (Run.stage) -> what the status shows.
FOR_PIPELINE_STAGE = {
    "ingest": Stage.DOWNLOADING,
    "process": Stage.PROCESSING,
    "store_derivatives": Stage.PROCESSING,
    "loudness": Stage.PROCESSING,
    "transcribe": Stage.TRANSCRIBING,
    "provider": Stage.ASKING_PROVIDER,
    "record": Stage.RECORDING,
}


@dataclass(frozen=True)
class Progress:
    stage: Stage
    percent: int | None = None
    updated_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "percent": self.percent, "updated_at": self.updated_at}


QUEUED = Progress(Stage.QUEUED)


def progress_key(request_id: Any) -> str:
    return cache.key("progress", request_id)


def run_of(started_at: datetime) -> int:
    """A run's identity: its ``started_at`` (stamped by each claim) in whole
    microseconds, exact whatever the time zone it is read in."""
    return int(started_at.timestamp()) * 1_000_000 + started_at.microsecond


# --------------------------------------------------------------------- reading
def shown_for(request: AnalysisRequest) -> Progress | None:
    """What the status body shows for ``request`` as read from PostgreSQL (see the
    module docstring). Reads Redis for a processing request only."""
    if request.status == AnalysisStatus.PENDING:
        return QUEUED
    if request.status != AnalysisStatus.PROCESSING or request.started_at is None:
        return None
    raw = redis_call(lambda client: client.get(progress_key(request.pk)), default=None)
    return _parse(raw, run_of(request.started_at))


def _parse(raw: bytes | None, run: int) -> Progress | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
        if value["run"] != run:
            return None  # an earlier run's
        return Progress(
            stage=Stage(value["stage"]),
            percent=value["percent"],
            updated_at=datetime.fromtimestamp(value["at"], tz=UTC),
        )
    except (ValueError, KeyError, TypeError):
        return None


# --------------------------------------------------------------------- writing
class Tracker:
    """One run's progress, written as it advances (never backwards)."""

    def __init__(
        self,
        request_id: uuid.UUID,
        run: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.request_id = request_id
        self.run = run
        self.clock = clock
        self.stage = Stage.QUEUED
        self.percent: int | None = None
        self.written_at = float("-inf")
        self.writes = 0  # attempted (tests read it)

    @classmethod
    def start(cls, request: AnalysisRequest, *, percent: int | None = None) -> Tracker:
        """The tracker of a run just claimed (``request`` is processing, its
        ``started_at`` read back), with the first stage written."""
        tracker = cls(request.id, run_of(request.started_at))
        tracker.enter(Stage.DOWNLOADING, percent=percent)
        return tracker

    def enter(self, stage: Stage, *, percent: int | None = None) -> None:
        """Move on to ``stage``: one write. The same or an earlier stage: nothing."""
        if RANK[stage] <= RANK[self.stage]:
            return
        self.stage, self.percent = stage, percent
        self._write()

    def advance(self, done: int, total: int | None) -> None:
        """``done`` of ``total`` units of the current stage: written when the
        percent moved by ``PERCENT_MIN_STEP`` points, at most once a
        ``PERCENT_MIN_SECONDS``. An unknown (or zero) total: nothing."""
        if not total or total <= 0:
            return
        percent = max(0, min(100, done * 100 // total))
        if percent - (self.percent or 0) < PERCENT_MIN_STEP:
            return
        if self.clock() - self.written_at < PERCENT_MIN_SECONDS:
            return
        self.percent = percent
        self._write()

    def counting(self, chunks: Iterable[bytes], total: int | None) -> Iterator[bytes]:
        """``chunks`` passed on, their bytes counted as the stage's percent of ``total``."""
        done = 0
        for chunk in chunks:
            done += len(chunk)
            self.advance(done, total)
            yield chunk

    def _write(self) -> None:
        self.written_at = self.clock()
        self.writes += 1
        value = json.dumps(
            {"run": self.run, "stage": self.stage, "percent": self.percent, "at": time.time()}
        )
        ttl = settings.CELERY_TASK_TIME_LIMIT + TTL_MARGIN_SECONDS
        generation = cache.status_generation_key(self.request_id)

        def write(client) -> None:
            # One MULTI: no reader sees the new value under the old generation (a
            # cached body with the earlier stage would then be served after it).
            pipe = client.pipeline(transaction=True)
            pipe.set(progress_key(self.request_id), value, ex=ttl)
            pipe.incr(generation)
            pipe.expire(generation, cache.GENERATION_TTL_SECONDS)
            pipe.execute()

        try:
            redis_call(write)
        except Exception:  # progress is best effort: it never fails an analysis
            logger.warning("progress not recorded", exc_info=True)

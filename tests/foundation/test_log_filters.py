"""Beat's recovery tick every few seconds does not fill the log: Celery's INFO
lines about it are dropped, everything else passes."""

from __future__ import annotations

import logging

from media_analysis.logging import QuietRoutineTasks


def _record(name: str, level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


def test_routine_ticks_are_dropped_and_everything_else_passes():
    quiet = QuietRoutineTasks()
    tick = "Task analysis.tasks.recover_requests[1] succeeded in 0.01s: {}"
    assert not quiet.filter(_record("celery.app.trace", logging.INFO, tick))
    assert not quiet.filter(
        _record("celery.beat", logging.INFO, "Sending due task (analysis.tasks.recover_requests)")
    )
    # Its failures, other tasks' lines and the task's own lines stay.
    assert quiet.filter(_record("celery.app.trace", logging.ERROR, tick))
    assert quiet.filter(
        _record("celery.app.trace", logging.INFO, "Task analysis.tasks.analyse_request[2] received")
    )
    assert quiet.filter(_record("analysis.recovery", logging.INFO, "recovered abandoned analyses"))

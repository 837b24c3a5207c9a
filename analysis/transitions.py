"""Every change of an analysis request's status, and what it does.

The table below says, for each state, the states it may be entered from and what
entering it stamps on the row. :func:`move` is the one way to apply a change,
whichever door asked (API, admin, task, command, the pipeline, recovery):

1. it refuses a move the table does not allow (``IllegalTransition``, HTTP 409);
2. it stamps the timestamps and clears what the new state makes stale;
3. it saves the row (the caller holds its lock, inside a transaction), so
   django-auditlog records the change with the actor of the current context;
4. it makes the cached views of the request stale, now and again on commit;
5. it does what entering the state means for the queue: entering ``pending``
   puts the request in the outbox, entering ``processing`` takes it out;
6. in the transaction it sends ``request_state_changing`` (webhook deliveries are
   written with the change), and after the commit ``request_state_changed``
   (metrics, listeners that need the committed row).

The model refuses any other write of ``status`` (see ``status_writes_allowed`` in
``analysis.models``), so no door can skip these steps.

    state        entered from                                 entering stamps
    pending      failed, cancelled (retry); processing        errors, times cleared
                 (its run died: recovery)
    processing   pending; processing (a dead run taken over)  started_at, heartbeat
    completed    processing; deleted (restored)               completed_at
    failed       processing; deleted (restored)               completed_at
    cancelled    pending, processing; deleted (restored)      completed_at
    deleted      every other state                            deleted_at

Leaving ``deleted`` (a restore) puts back the state the request had, without new
stamps: ``deleted_at`` is cleared and the earlier times stay.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models.functions import Now

from analysis import outbox, search_document
from analysis.cache import invalidate_request
from analysis.models import AnalysisRequest, AnalysisStatus, status_writes_allowed
from analysis.signals import request_state_changed, request_state_changing
from media_analysis.errors import StateConflict

logger = logging.getLogger(__name__)

S = AnalysisStatus
TERMINAL = frozenset({S.COMPLETED, S.FAILED, S.CANCELLED})


@dataclass(frozen=True)
class StateRule:
    entered_from: frozenset[str]
    # Fields set when the state is entered (not when it is restored from deleted).
    stamps: tuple[tuple[str, Any], ...] = ()


RULES: dict[str, StateRule] = {
    S.PENDING: StateRule(
        frozenset({S.FAILED, S.CANCELLED, S.PROCESSING}),
        stamps=(
            ("error_code", None),
            ("error_message", None),
            ("started_at", None),
            ("completed_at", None),
            ("latency_ms", None),
            ("heartbeat_at", None),
        ),
    ),
    S.PROCESSING: StateRule(
        frozenset({S.PENDING, S.PROCESSING}),
        stamps=(
            ("started_at", Now()),
            ("heartbeat_at", Now()),
            ("error_code", None),
            ("error_message", None),
        ),
    ),
    S.COMPLETED: StateRule(frozenset({S.PROCESSING, S.DELETED}), stamps=(("completed_at", Now()),)),
    S.FAILED: StateRule(frozenset({S.PROCESSING, S.DELETED}), stamps=(("completed_at", Now()),)),
    S.CANCELLED: StateRule(
        frozenset({S.PENDING, S.PROCESSING, S.DELETED}), stamps=(("completed_at", Now()),)
    ),
    S.DELETED: StateRule(
        frozenset({S.PENDING, S.PROCESSING, *TERMINAL}), stamps=(("deleted_at", Now()),)
    ),
}

# Written by the database (Now()): read back after the save so callers see values.
_DATABASE_STAMPS = ("started_at", "completed_at", "deleted_at", "heartbeat_at")


class IllegalTransition(StateConflict):
    """A status change the transition table does not allow."""

    def __init__(self, previous: str, state: str):
        super().__init__(
            "illegal_transition",
            f"A request that is {previous} cannot become {state}.",
        )


def may_move(previous: str, state: str) -> bool:
    return previous in RULES[state].entered_from


def move(request: AnalysisRequest, state: str, *, reason: str, **changes: Any) -> AnalysisRequest:
    """Change ``request`` (locked by the caller, inside its transaction) to ``state``,
    together with ``changes`` to other fields; see the module docstring."""
    previous = request.status
    if not may_move(previous, state):
        raise IllegalTransition(previous, state)
    fields = dict(RULES[state].stamps) if previous != S.DELETED else {}
    if previous == S.DELETED:
        fields["deleted_at"] = None
    fields.update(changes)
    for name, value in fields.items():
        setattr(request, name, value)
    request.status = state
    with status_writes_allowed():
        request.save(update_fields=["status", *fields])
    stamped = [name for name in _DATABASE_STAMPS if isinstance(fields.get(name), Now)]
    if stamped:
        request.refresh_from_db(fields=stamped)
    invalidate_request(request)
    _enter_queue_state(request, previous, state)
    request_state_changing.send(
        sender=AnalysisRequest, request=request, previous=previous, state=state, reason=reason
    )
    _announce_after_commit(request, previous, state, reason)
    return request


def announce_created(request: AnalysisRequest) -> None:
    """A new request exists (pending, in the outbox): listeners hear of it as a
    change from nothing, after the commit."""
    search_document.refresh(request.id)  # found by its prompt and file name at once
    invalidate_request(request)
    outbox.add(request)
    _announce_after_commit(request, None, request.status, "submitted")


def _enter_queue_state(request: AnalysisRequest, previous: str, state: str) -> None:
    if state == S.PENDING:
        outbox.add(request)  # published after the commit
    elif state == S.PROCESSING or previous == S.PENDING:
        outbox.claimed(request.id)  # a run has it, or nobody will


def _announce_after_commit(
    request: AnalysisRequest, previous: str | None, state: str, reason: str
) -> None:
    request_id, owner_id = request.id, request.owner_id

    def announce() -> None:
        request_state_changed.send_robust(
            sender=AnalysisRequest,
            request_id=request_id,
            owner_id=owner_id,
            previous=previous,
            state=state,
            reason=reason,
        )

    transaction.on_commit(announce)
    logger.info(
        "request %s: %s -> %s",
        request_id,
        previous,
        state,
        extra={"analysis_id": str(request_id), "reason": reason},
    )

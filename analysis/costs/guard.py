"""The budget check before each provider call of a run.

The pipeline wraps the provider's ``analyse`` with :meth:`RunBudget.guard`, so every
call is checked, the repair ask of a structured answer and the calls of a run that
recovery or a retry started again included. Before a call, its highest expected
cost (``tokens.call_ceiling``: the actual request, a full-length answer) must fit:

- the request's own cap, ``options.max_cost_usd``, less what this run already spent
  (speech to text, an earlier ask);
- what is left of the owner's daily and monthly budgets.

Otherwise nothing is sent and the request fails with ``budget_exceeded`` naming the
limit. A model with no price in the table cannot be checked: under a budget or a
cap its calls are refused (``budget_exceeded``, limit ``unpriced``); without any
limit they are made and their cost is recorded as unknown.

Concurrency: two runs of one user checking at once could each see the same
remaining budget. The check and the reservation (``CostReservation``: this run's
spend so far plus the call's ceiling) happen under a PostgreSQL advisory lock per
user, and every check counts the others' reservations, so concurrent runs share the
budget instead of each spending it. After the call the reservation holds what the
call cost (the provider's or the table's figure; the ceiling when unknown) until
the result is recorded and the run ends; a run started again after one died
(recovery, a redelivered task) counts what the dead run held as already spent, so
automatic reruns never spend past the budget. HTTP attempts retried inside one call
(429, 5xx, connection errors) are under that call's reservation: a failed attempt
bills nothing.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from analysis.costs import tokens, usage
from analysis.costs.budgets import REQUEST, BudgetExceeded, limits_for, standings
from analysis.costs.models import CostReservation
from analysis.providers.base import Provider, ProviderRequest, ProviderResult

logger = logging.getLogger(__name__)

UNPRICED = "unpriced"
# pg_advisory_xact_lock(int, int): a namespace of our own, then the user.
_LOCK_NAMESPACE = zlib.crc32(b"media-analysis:budget") & 0x7FFFFFFF


@dataclass
class RunBudget:
    """One run's spend and limits."""

    request_id: object
    owner_id: int | None
    cap: Decimal | None = None
    spent: Decimal = field(default_factory=lambda: Decimal("0"))
    reserving: bool = False  # a limit applies: this run holds a reservation
    carried: bool = False  # an earlier run's reservation was read

    def guard(self, provider: Provider, model: str) -> Callable[[ProviderRequest], ProviderResult]:
        """``provider.analyse``, checked before each call."""

        def guarded(request: ProviderRequest) -> ProviderResult:
            ceiling = tokens.call_ceiling(
                provider.name, model, request, include_audio=_sends_audio(provider, model)
            )
            self._check_and_reserve(provider.name, model, ceiling.cost_usd)
            try:
                result = provider.analyse(request)
            except BaseException:
                self._hold(self.spent)  # a failed call billed nothing
                raise
            cost = result.cost_usd if result.cost_usd is not None else ceiling.cost_usd
            self.spent += cost or Decimal(0)
            self._hold(self.spent)
            return result

        return guarded

    # --------------------------------------------------------------- the check
    def _check_and_reserve(self, provider: str, model: str, ceiling: Decimal | None) -> None:
        limited = self.owner_id is not None and limits_for(self.owner_id).any
        if not limited and self.cap is None:
            return
        with transaction.atomic():
            if self.owner_id is not None:
                _lock_owner(self.owner_id)
                self._carry_over()
            if self.cap is not None:
                self._check_cap(provider, model, ceiling)
            if limited:
                self._check_periods(provider, model, ceiling)
            if self.owner_id is not None:
                self.reserving = True
                self._hold(self.spent + (ceiling or Decimal(0)))

    def _carry_over(self) -> None:
        """A run that died after spending (a killed worker: recovery runs the request
        again) left its reservation: what it held counts as spent by this request, so
        automatic reruns never spend the same budget twice."""
        if self.carried:
            return
        self.carried = True
        held = (
            CostReservation.objects.filter(request_id=self.request_id, expires_at__gt=usage.now())
            .values_list("amount_usd", flat=True)
            .first()
        )
        if held:
            self.spent += held

    def _check_periods(self, provider: str, model: str, ceiling: Decimal | None) -> None:
        day, month = standings(self.owner_id, exclude_request=self.request_id)
        for standing in (day, month):
            if standing.limit is None:
                continue
            if ceiling is None:
                raise _unpriced(provider, model, f"the {standing.period} budget")
            if standing.used + self.spent + ceiling > standing.limit:
                left = max(standing.limit - standing.used - self.spent, Decimal(0))
                raise standing.refusal(
                    f"The next {provider} call ({model}) may cost up to {ceiling} USD, "
                    f"and {left} USD is left of the {standing.period} budget of "
                    f"{standing.limit} USD; it was not made. The budget resets at "
                    f"{standing.resets_at.isoformat()}."
                )

    def _check_cap(self, provider: str, model: str, ceiling: Decimal | None) -> None:
        if ceiling is None:
            raise _unpriced(provider, model, "options.max_cost_usd")
        if self.spent + ceiling > self.cap:
            raise BudgetExceeded(
                REQUEST,
                f"The next {provider} call ({model}) may cost up to {ceiling} USD, and "
                f"{max(self.cap - self.spent, Decimal(0))} USD is left of this request's "
                f"options.max_cost_usd ({self.cap} USD); it was not made.",
                limit_usd=self.cap,
                used_usd=self.spent,
                resets_at=None,
            )

    def _hold(self, amount: Decimal) -> None:
        """This run's reservation now holds ``amount``."""
        if not self.reserving:
            return
        expires = usage.now() + timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
        CostReservation.objects.update_or_create(
            request_id=self.request_id,
            defaults={"owner_id": self.owner_id, "amount_usd": amount, "expires_at": expires},
        )


def release_reservation(request_id: object) -> None:
    """The run ended: its result (if any) counts from now on, its reservation goes.
    With the database away it stays until it expires (the run is retried anyway)."""
    try:
        CostReservation.objects.filter(request_id=request_id).delete()
    except DatabaseError:
        logger.warning("could not release the cost reservation of %s", request_id)


def _lock_owner(owner_id: int) -> None:
    """Serialise the budget checks of one user until the transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, owner_id])


def _sends_audio(provider: Provider, model: str) -> bool:
    accepts = getattr(provider, "accepts_audio", None)
    return accepts(model) if callable(accepts) else True


def _unpriced(provider: str, model: str, limit: str) -> BudgetExceeded:
    return BudgetExceeded(
        UNPRICED,
        f"{provider} model {model!r} has no price in the price table, so a call cannot be "
        f"checked against {limit}; it was not made. Choose a priced model, or add its "
        "price to analysis/providers/pricing.py.",
        limit_usd=Decimal(0),
        used_usd=Decimal(0),
        resets_at=None,
    )

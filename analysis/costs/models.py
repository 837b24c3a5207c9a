"""The cost tables: a user's own budget, and the cost held by analyses in flight."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q


class UserBudget(models.Model):
    """A user's own limits in USD; an empty one means the default from the
    environment (``BUDGET_DAILY_USD`` / ``BUDGET_MONTHLY_USD``)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="budget"
    )
    daily_usd = models.DecimalField(
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="USD per UTC day; empty: BUDGET_DAILY_USD.",
    )
    monthly_usd = models.DecimalField(
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="USD per UTC calendar month; empty: BUDGET_MONTHLY_USD.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "user_budgets"
        constraints = [
            models.CheckConstraint(
                condition=(Q(daily_usd__isnull=True) | Q(daily_usd__gte=0))
                & (Q(monthly_usd__isnull=True) | Q(monthly_usd__gte=0)),
                name="chk_budget_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"budget of {self.user}"


class CostReservation(models.Model):
    """What a running analysis has spent and is about to spend, before its result
    (with the cost) is recorded: what this run's calls cost so far plus the most the
    call in flight can cost. Counted in every budget check of the owner, so two
    analyses running at once cannot both pass the same remaining budget. Deleted
    when the run ends; ``expires_at`` (the task's time limit) covers a run that died.
    """

    # One per request (a run's calls add up in it). The foreign key constraint
    # is left out, like the results': requests are never hard-deleted while running.
    request = models.OneToOneField(
        "analysis.AnalysisRequest",
        primary_key=True,
        on_delete=models.CASCADE,
        db_constraint=False,
        related_name="cost_reservation",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cost_reservations"
    )
    amount_usd = models.DecimalField(max_digits=12, decimal_places=6)
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "cost_reservations"
        indexes = [models.Index(fields=["owner", "expires_at"], name="idx_reservations_owner")]

    def __str__(self) -> str:
        return f"reservation of {self.request_id}"

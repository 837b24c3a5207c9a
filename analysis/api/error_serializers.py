"""The shape of every API error in the OpenAPI schema (``analysis/api/exceptions.py``
builds them): ``{"error": {"code", "message", "field"?, ...}}``."""

from __future__ import annotations

from rest_framework import serializers


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable.")
    message = serializers.CharField(help_text="For people.")
    field = serializers.CharField(
        required=False, help_text="The input at fault, when there is one."
    )
    details = serializers.DictField(
        required=False, help_text="Per-field messages of a validation error."
    )
    retry_after = serializers.IntegerField(required=False, help_text="Seconds, as in Retry-After.")
    # budget_exceeded (analysis/costs/budgets.py)
    limit = serializers.CharField(
        required=False, help_text="budget_exceeded: daily, monthly, request or unpriced."
    )
    limit_usd = serializers.CharField(required=False, help_text="budget_exceeded: the limit.")
    used_usd = serializers.CharField(
        required=False, help_text="budget_exceeded: spent and held by running analyses."
    )
    resets_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="budget_exceeded: when the budget resets (00:00 UTC, the 1st of the month).",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorBodySerializer()

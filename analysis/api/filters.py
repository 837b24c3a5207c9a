"""History filters (django-filter) and pagination.

Unknown values (a status that does not exist, a date that is not one, an ordering
field we do not offer) are 400s naming the parameter; text goes to the database as
bound parameters only, and text PostgreSQL cannot hold (NUL) is refused up front.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from rest_framework.pagination import PageNumberPagination

from analysis.models import AnalysisRequest, AnalysisStatus, MediaType

VISIBLE_STATUSES = [s for s in AnalysisStatus.values if s != AnalysisStatus.DELETED]
MAX_TEXT = 200


def _valid_text(value: str) -> None:
    if "\x00" in value:
        raise forms.ValidationError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise forms.ValidationError("must be valid text") from None


class TextFilter(django_filters.CharFilter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", MAX_TEXT)
        kwargs.setdefault("validators", [_valid_text])
        super().__init__(*args, **kwargs)


class StableOrderingFilter(django_filters.OrderingFilter):
    """Adds the primary key last, so pages never repeat or skip rows that tie."""

    def filter(self, qs: QuerySet, value):
        ordered = super().filter(qs, value)
        ordering = list(ordered.query.order_by) or ["-created_at"]
        return ordered.order_by(*ordering, "-id")


class HistoryFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=[(s, s) for s in VISIBLE_STATUSES],
        help_text="One or more statuses: repeat the parameter or separate with commas.",
    )
    media_type = django_filters.ChoiceFilter(choices=MediaType.choices)
    provider = TextFilter(field_name="provider")
    model_used = TextFilter(field_name="model_used")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    search = TextFilter(method="search_text", help_text="Text in the prompt or the file name.")
    ordering = StableOrderingFilter(
        fields=["created_at", "completed_at", "status", "latency_ms", "retry_count"],
        help_text="Sort field, '-' for descending; newest first by default.",
    )

    class Meta:
        model = AnalysisRequest
        fields: list[str] = []

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and "status" in data:
            data = data.copy()
            data.setlist(
                "status",
                [
                    part.strip()
                    for value in data.getlist("status")
                    for part in value.split(",")
                    if part.strip()
                ],
            )
        super().__init__(data, *args, **kwargs)

    def search_text(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(prompt__icontains=value) | Q(original_filename__icontains=value))


class HistoryPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100  # a larger page_size is capped, not refused

"""History filters (django-filter) and pagination.

Unknown values (a status that does not exist, a date that is not one, an ordering
field we do not offer) are 400s naming the parameter; text goes to the database as
bound parameters only, and text PostgreSQL cannot hold (NUL) is refused up front.
"""

from __future__ import annotations

import re
from datetime import UTC, timedelta

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django_filters.fields import IsoDateTimeField
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

from analysis.models import AnalysisRequest, AnalysisStatus, MediaType

VISIBLE_STATUSES = [s for s in AnalysisStatus.values if s != AnalysisStatus.DELETED]
MAX_TEXT = 200
_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")


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


# PostgreSQL accepts UTC offsets up to 15:59; real zones stay within 14:00.
MAX_UTC_OFFSET = timedelta(hours=14)


class InstantField(IsoDateTimeField):
    """An ISO 8601 date-time that PostgreSQL can compare: present when given (an
    empty value is an error, not "no filter"), a sane UTC offset, converted to UTC."""

    def clean(self, value):
        if value == "":
            raise forms.ValidationError("Enter an ISO 8601 date-time.", code="invalid")
        instant = super().clean(value)
        if instant is None:
            return None
        offset = instant.utcoffset()
        if offset is not None and abs(offset) > MAX_UTC_OFFSET:
            raise forms.ValidationError("The UTC offset must be within ±14:00.", code="invalid")
        try:
            return instant.astimezone(UTC)
        except (OverflowError, ValueError):
            raise forms.ValidationError("The date-time is out of range.", code="invalid") from None


class InstantFilter(django_filters.IsoDateTimeFilter):
    field_class = InstantField


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
    created_after = InstantFilter(field_name="created_at", lookup_expr="gte")
    created_before = InstantFilter(field_name="created_at", lookup_expr="lt")
    search = TextFilter(method="search_text", help_text="Text in the prompt or the file name.")
    ordering = StableOrderingFilter(
        fields=["created_at", "completed_at", "status", "latency_ms", "retry_count"],
        help_text="Sort field, '-' for descending; newest first by default.",
    )

    class Meta:
        model = AnalysisRequest
        fields: list[str] = []

    # Given but empty ("?media_type=", "?ordering=,") is an error, not "no filter".
    NOT_EMPTY = ("status", "media_type", "ordering", "created_after", "created_before")

    def __init__(self, data=None, *args, **kwargs):
        self.empty_params = [
            name
            for name in self.NOT_EMPTY
            if data is not None
            and any(not part.strip() for v in data.getlist(name) for part in v.split(","))
        ]
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

    def is_valid(self) -> bool:
        valid = super().is_valid()
        for name in self.empty_params:
            self.form.add_error(name, forms.ValidationError("Must not be empty.", code="invalid"))
        return valid and not self.empty_params

    def search_text(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(prompt__icontains=value) | Q(original_filename__icontains=value))


class HistoryPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100  # a larger page_size is capped, not refused

    last_page_strings = ()  # pages are numbers only, as the schema says

    def get_page_number(self, request, paginator) -> str:
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return "1"
        if not _WHOLE_NUMBER.fullmatch(raw) or int(raw) < 1:
            raise ValidationError({"page": ["A whole number from 1."]})
        return raw

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not _WHOLE_NUMBER.fullmatch(raw) or int(raw) < 1:
            raise ValidationError(
                {"page_size": [f"A whole number from 1 (above {self.max_page_size} is capped)."]}
            )
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
        return parameters

"""History filters (django-filter) and pagination.

Unknown values (a status that does not exist, a date that is not one, an ordering
field we do not offer) are 400s naming the parameter; text goes to the database as
bound parameters only, and text PostgreSQL cannot hold (NUL) is refused up front.

Pages cost the same whatever the history's size (issue 12: p95 under 20 ms at a
million requests, ``benchmarks/history_p95.py``): a page reads one row more than it
shows to know whether there is a next one, and the total is counted only up to
``COUNT_LIMIT`` rows and ``HISTORY_COUNT_BUDGET_MS`` of PostgreSQL's time (``count_exact``
says whether ``count`` is the total or a lower bound). Every ordering has an index
(``analysis.models``), and the search has trigram indexes.
"""

from __future__ import annotations

import re
from datetime import UTC, timedelta

import django_filters
from django import forms
from django.conf import settings
from django.db import OperationalError, connections, transaction
from django.db.models import Q, QuerySet
from django_filters.fields import IsoDateTimeField
from psycopg.errors import QueryCanceled
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from analysis import search_document
from analysis.api.search_plan import RANK_WINDOW, plan_search, planner_settings, read_ranked
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
    """Adds the primary key last, so pages never repeat or skip rows that tie. The
    key goes the way of the first field: one index (field, id) then serves both
    directions, where a key always descending would leave PostgreSQL sorting every
    row of a tie (a status, a retry count: hundreds of thousands)."""

    def filter(self, qs: QuerySet, value):
        ordered = super().filter(qs, value)
        ordering = list(ordered.query.order_by) or ["-created_at"]
        descending = str(ordering[0]).startswith("-")
        return ordered.order_by(*ordering, "-id" if descending else "id")


class AnyOfFilter(django_filters.MultipleChoiceFilter):
    """One ``IN`` for several values, where django-filter ORs one condition per
    value: PostgreSQL can seek an index (owner, status, id) for ``status IN (...)``
    but must read every one of the owner's entries to test an OR (8-120 ms at a
    million requests, against 0.4 ms)."""

    def filter(self, qs: QuerySet, value) -> QuerySet:
        if not value:
            return qs
        return qs.filter(**{f"{self.field_name}__in": list(value)})


class HistoryFilter(django_filters.FilterSet):
    status = AnyOfFilter(
        choices=[(s, s) for s in VISIBLE_STATUSES],
        # One table, no joins: nothing to de-duplicate. django-filter's default
        # (DISTINCT) would make PostgreSQL read and compare every matching row.
        distinct=False,
        help_text="One or more statuses: repeat the parameter or separate with commas.",
    )
    media_type = django_filters.ChoiceFilter(choices=MediaType.choices)
    provider = TextFilter(field_name="provider")
    model_used = TextFilter(field_name="model_used")
    created_after = InstantFilter(field_name="created_at", lookup_expr="gte")
    created_before = InstantFilter(field_name="created_at", lookup_expr="lt")
    search = TextFilter(method="search_text", help_text="Text in the prompt or the file name.")
    q = TextFilter(
        method="full_text",
        help_text=(
            "Full-text search of prompts, file names, results, transcripts and text read"
            ' from pictures (web search syntax: words, "a phrase", OR, -word), in the'
            ' HISTORY_SEARCH_LANGUAGE\'s words ("tones" finds "tone"). Without an'
            f" ordering, the newest {RANK_WINDOW} matches come first, most relevant"
            " first, then older ones, newest first. A q with no word to search for"
            " (only stop words or punctuation) is a 400."
        ),
    )
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

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        filtered = super().filter_queryset(queryset)
        text = self.form.cleaned_data.get("q")
        if text and not self.form.cleaned_data.get("ordering"):
            # Ranked, for the pagination (search_plan.read_ranked); kept by clones.
            filtered.query.history_ranked = text
        return filtered

    def full_text(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if not search_document.has_words(value):
            raise ValidationError(
                {name: ["No words to search for (only stop words or punctuation)."]}
            )
        return search_document.matching(queryset, value)

    def search_text(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        condition = Q(prompt__icontains=value) | Q(original_filename__icontains=value)
        searched = queryset.filter(condition)
        # For plan_search, once the page is known (a query's attributes go with
        # every clone of it: the ordering, .values(), the pagination's slices).
        searched.query.history_search = (condition, value)
        return searched


# Counting every row a history's filters match costs time in proportion to the
# matches (a staff-wide count of a million rows: most of a second); past this many
# a page says "at least" instead.
COUNT_LIMIT = 1000
# ...and the count gets settings.HISTORY_COUNT_BUDGET_MS of PostgreSQL's time. A
# count that must read many rows to find its matches (a rare status, a search, both)
# costs tens of milliseconds at a million requests, whatever the limit; past the
# budget the page says "at least" the rows it has seen instead (issue 12: p95 < 20 ms).
# From this many rows deep, a page is found by its keys first (see _rows).
DEEP_PAGE_ROWS = 1000


def _binds_on_server(connection) -> bool:
    # Server-side binding (an OPTIONS switch) sends extended-protocol queries, which
    # take one statement each: then the budget needs a transaction of its own.
    return bool(connection.settings_dict.get("OPTIONS", {}).get("server_side_binding"))


def _key_of(row) -> object:
    return row["id"] if isinstance(row, dict) else row.pk


class HistoryPagination(PageNumberPagination):
    """Page numbers, as DRF's PageNumberPagination, with a bounded count: ``count``
    is the total when ``count_exact`` is true, else a lower bound (COUNT_LIMIT past
    the limit; the rows read so far when the count ran out of time). ``next`` is
    there exactly when a next page has rows."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100  # a larger page_size is capped, not refused

    last_page_strings = ()  # pages are numbers only, as the schema says
    count_limit = COUNT_LIMIT

    def __init__(self) -> None:
        self.count_timeout_ms: int = settings.HISTORY_COUNT_BUDGET_MS

    def paginate_queryset(self, queryset: QuerySet, request, view=None) -> list:
        self.request = request
        if request.query_params.get("search") or request.query_params.get("q"):
            # Every match of a substring is found by reading rows (a sequential or
            # bitmap scan: 20-70 ms at a million requests, and a GIN scan does not
            # stop at the budget): a search counts nothing beyond its pages. So does
            # a full-text one (its count timed out at a million requests: 8-15 ms lost).
            self.count_timeout_ms = 0
        size = self.get_page_size(request)
        self.number = int(self.get_page_number(request, None))
        start = (self.number - 1) * size
        # One row more than the page: whether a next page exists, without a count.
        rows = self._rows(queryset, start, size + 1)
        self.has_next = len(rows) > size
        del rows[size:]
        if not rows and self.number > 1:
            raise NotFound("Invalid page.")
        seen = start + len(rows) + (1 if self.has_next else 0)
        if not self.has_next:
            self.count, self.count_exact = seen, True
        elif seen > self.count_limit or not self.count_timeout_ms:
            self.count, self.count_exact = seen, False  # past the limit, or no budget
        else:
            counted = self._bounded_count(queryset)
            if counted is None:  # out of time: the rows seen are all we know of
                self.count, self.count_exact = seen, False
            elif counted > self.count_limit:
                self.count, self.count_exact = max(self.count_limit, seen), False
            else:
                self.count, self.count_exact = counted, True
        return rows

    def _bounded_count(self, queryset: QuerySet) -> int | None:
        """Up to count_limit + 1 matches, or None when counting them takes longer
        than count_timeout_ms. Ordering dropped: any rows will do, so PostgreSQL
        picks the cheapest way to find them.

        The budget is a statement timeout set with SET LOCAL, so it ends with its
        transaction and never reaches the next user of a pooled connection. A
        cancelled count is caught here, inside call_database, so the breaker never
        sees it: a slow count is not a database failure, and the page is answered
        (count_exact: false)."""
        alias = queryset.db
        connection = connections[alias]
        rows, params = (
            queryset.order_by().values("pk")[: self.count_limit + 1].query.sql_with_params()
        )
        # Django compiled the rows query: the text holds placeholders, no values.
        count_sql = f"SELECT COUNT(*) FROM ({rows}) AS counted"  # noqa: S608
        budget = f"SET LOCAL statement_timeout = {int(self.count_timeout_ms)}"
        try:
            if connection.in_atomic_block or _binds_on_server(connection):
                return self._count_in_savepoint(connection, alias, budget, count_sql, params)
            # Autocommit (every request here): one message of two statements, which
            # PostgreSQL runs as one implicit transaction, so the budget costs no
            # round trip of its own (BEGIN, SET, COMMIT: three more on a loaded host).
            with connection.cursor() as cursor:
                cursor.execute(f"{budget}; {count_sql}", params)
                cursor.nextset()
                return cursor.fetchone()[0]
        except OperationalError as error:
            if isinstance(error.__cause__, QueryCanceled):
                return None
            raise

    @staticmethod
    def _count_in_savepoint(connection, alias: str, budget: str, sql: str, params) -> int:
        # Inside a transaction (tests, ATOMIC_REQUESTS) a savepoint keeps a cancelled
        # count from aborting it; its release would carry the budget outwards, so
        # the setting before it is put back.
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('statement_timeout')")
            previous = cursor.fetchone()[0]
            cursor.execute(budget)
            cursor.execute(sql, params)
            counted = cursor.fetchone()[0]
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
        return counted

    @staticmethod
    def _rows(queryset: QuerySet, start: int, count: int) -> list:
        ranked = getattr(queryset.query, "history_ranked", None)
        if ranked is not None:
            return read_ranked(queryset, ranked, start, count, HistoryPagination._read)
        queryset = plan_search(queryset, start + count)
        with planner_settings(queryset):
            return HistoryPagination._read(queryset, start, count)

    @staticmethod
    def _read(queryset: QuerySet, start: int, count: int) -> list:
        if start < DEEP_PAGE_ROWS:
            return list(queryset[start : start + count])
        # Deep: find the page's keys first. Skipping thousands of rows then reads
        # the index alone (every ordering's index ends with the key), not a table
        # row for each; only the page's own rows are fetched whole. Rows are model
        # instances or .values() dicts (the history view's).
        keys = list(queryset.values_list("pk", flat=True)[start : start + count])
        found = {_key_of(row): row for row in queryset.order_by().filter(pk__in=keys)}
        return [found[key] for key in keys if key in found]  # gone since: left out

    def get_paginated_response(self, data) -> Response:
        return Response(
            {
                "count": self.count,
                "count_exact": self.count_exact,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.page_query_param, self.number + 1)

    def get_previous_link(self) -> str | None:
        if self.number == 1:
            return None
        url = self.request.build_absolute_uri()
        if self.number == 2:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, self.number - 1)

    def get_paginated_response_schema(self, schema: dict) -> dict:
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count"]["description"] = (
            f"How many requests match: the total when count_exact is true, else a lower"
            f" bound (counting stops past {self.count_limit} matches or"
            f" {self.count_timeout_ms} ms)."
        )
        response["properties"] = {
            "count": response["properties"]["count"],
            "count_exact": {"type": "boolean", "example": True},
            **{k: v for k, v in response["properties"].items() if k != "count"},
        }
        response["required"] = [*response["required"], "count_exact"]
        return response

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

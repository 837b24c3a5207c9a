"""Admin list pages that stay fast on tables of millions of rows.

Django's changelist costs, per page load, on a big table:
- the paginator's ``COUNT(*)`` of every matching row: here counted only up to
  ``ADMIN_LIST_COUNT_LIMIT`` (``SELECT count(*) FROM (... LIMIT n)``), shown as "n+";
- ``show_full_result_count``: off;
- the date hierarchy's ``SELECT DISTINCT date_trunc(...)`` over every matching row:
  here the years / months / days between the first and the last matching row
  (``min``/``max``: two index probes);
- ``AllValuesFieldListFilter``'s ``SELECT DISTINCT`` over the whole table: filters
  here take their choices from settings or from ``distinct_values`` (a loose index
  scan, one probe per distinct value);
- an exact search on a UUID column (``=id`` becomes ``UPPER(id::text) = ...``, a
  scan): a UUID search term is matched against ``uuid_search_fields`` by equality.
Generic (no app's models here): used by the analysis, storage and audit admins.
"""

from __future__ import annotations

import calendar
import datetime
from functools import cached_property

from django.conf import settings
from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections, models
from django.db.models import Max, Min, Q
from django.utils import timezone

from media_analysis.context import parse_uuid


class CappedCountPaginator(Paginator):
    """Counts matching rows up to ``ADMIN_LIST_COUNT_LIMIT``; ``is_capped`` says
    there are more (pages beyond the limit are not offered: narrow the filters)."""

    is_capped = False

    @cached_property
    def count(self) -> int:
        limit = settings.ADMIN_LIST_COUNT_LIMIT
        if not isinstance(self.object_list, models.QuerySet):
            return super().count
        found = self.object_list.order_by()[: limit + 1].count()
        self.is_capped = found > limit
        return min(found, limit)


class FastChangeListMixin:
    """Mix into a ``ModelAdmin`` for a table that grows without bound."""

    paginator = CappedCountPaginator
    show_full_result_count = False
    change_list_template = "admin/console/change_list.html"
    # A search term that is a UUID is looked up by equality in these (indexed) fields.
    uuid_search_fields: tuple[str, ...] = ()

    def get_search_results(self, request, queryset, search_term):
        term = parse_uuid(search_term)
        if term is not None and self.uuid_search_fields:
            match = Q()
            for name in self.uuid_search_fields:
                match |= Q(**{name: term})
            return queryset.filter(match), False
        return super().get_search_results(request, queryset, search_term)


def distinct_values(model: type[models.Model], column: str, *, limit: int = 100) -> list[str]:
    """Distinct non-null values of an indexed column, by a loose index scan: one
    index probe per value instead of reading the table."""
    table = connections["default"].ops.quote_name(model._meta.db_table)
    name = connections["default"].ops.quote_name(model._meta.get_field(column).column)
    sql = f"""
        WITH RECURSIVE found(value) AS (
            (SELECT {name} FROM {table} WHERE {name} IS NOT NULL ORDER BY {name} LIMIT 1)
            UNION ALL
            SELECT (SELECT {name} FROM {table} WHERE {name} > found.value ORDER BY {name} LIMIT 1)
            FROM found WHERE found.value IS NOT NULL
        )
        SELECT value FROM found WHERE value IS NOT NULL LIMIT %s
    """  # noqa: S608 (identifiers come from model metadata, quoted)
    with connections["default"].cursor() as cursor:
        cursor.execute(sql, [limit])
        return [row[0] for row in cursor.fetchall()]


class ValueListFilter(admin.SimpleListFilter):
    """Exact match on ``field`` with choices from ``values()`` (no table scan)."""

    field: str = ""

    def values(self, request) -> list[str]:
        raise NotImplementedError

    def lookups(self, request, model_admin):
        return [(value, value) for value in self.values(request)]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(**{self.field: value}) if value else queryset


# ------------------------------------------------------------ date hierarchy
def date_hierarchy_context(cl) -> dict:
    """What Django's ``{% date_hierarchy %}`` shows, from ``min``/``max`` of the
    matching rows instead of ``SELECT DISTINCT`` over them. Periods between the
    first and the last row are all listed, even one without rows."""
    field_name = cl.date_hierarchy
    params = {level: cl.params.get(f"{field_name}__{level}") for level in ("year", "month", "day")}
    year, month, day = (_as_int(params[level]) for level in ("year", "month", "day"))

    def link(filters: dict) -> str:
        return cl.get_query_string(filters, [f"{field_name}__"])

    if year and month and day:
        shown = datetime.date(year, month, day)
        return {
            "show": True,
            "back": {
                "link": link({f"{field_name}__year": year, f"{field_name}__month": month}),
                "title": shown.strftime("%B %Y"),
            },
            "choices": [{"title": shown.strftime("%B %d")}],
        }
    if not cl.result_count:
        return {"show": False}  # nothing matches: no need to look for the first and last
    first, last = _first_and_last(cl.queryset, field_name)
    if first is None:
        return {"show": False}
    if not year and first.year == last.year:
        year = first.year
        if first.month == last.month:
            month = first.month
    if year and month:
        last_day = calendar.monthrange(year, month)[1]
        start = first.day if (first.year, first.month) == (year, month) else 1
        end = last.day if (last.year, last.month) == (year, month) else last_day
        return {
            "show": True,
            "back": {"link": link({f"{field_name}__year": year}), "title": str(year)},
            "choices": [
                {
                    "link": link(
                        {
                            f"{field_name}__year": year,
                            f"{field_name}__month": month,
                            f"{field_name}__day": d,
                        }
                    ),
                    "title": datetime.date(year, month, d).strftime("%B %d"),
                }
                for d in range(start, end + 1)
            ],
        }
    if year:
        start = first.month if first.year == year else 1
        end = last.month if last.year == year else 12
        return {
            "show": True,
            "back": {"link": link({}), "title": "All dates"},
            "choices": [
                {
                    "link": link({f"{field_name}__year": year, f"{field_name}__month": m}),
                    "title": datetime.date(year, m, 1).strftime("%B %Y"),
                }
                for m in range(start, end + 1)
            ],
        }
    return {
        "show": True,
        "back": None,
        "choices": [
            {"link": link({f"{field_name}__year": str(y)}), "title": str(y)}
            for y in range(first.year, last.year + 1)
        ],
    }


def _first_and_last(queryset, field_name: str):
    found = queryset.order_by().aggregate(first=Min(field_name), last=Max(field_name))
    first, last = found["first"], found["last"]
    if first is None or last is None:
        return None, None
    if isinstance(first, datetime.datetime) and timezone.is_aware(first):
        first, last = timezone.localtime(first), timezone.localtime(last)
    return first, last


def _as_int(value) -> int | None:
    if isinstance(value, list):
        value = value[-1] if value else None
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None

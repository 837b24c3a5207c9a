"""The history's query parameters as the schema states them: what HistoryFilter
and HistoryPagination refuse (a list given but empty, text over MAX_TEXT characters
or with NUL, an instant InstantField cannot take, a page that is no whole number of
at most nine digits), so a schema-valid query is never refused (issue 16). The
parameters named here replace the ones drf-spectacular derives from the filter set;
the others (media_type) are derived as they were."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter

from analysis.api.filters import MAX_TEXT, VISIBLE_STATUSES, HistoryFilter


def _history_parameter(
    name: str, schema: dict[str, Any], description: str, *, explode: bool | None = None
) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        schema,
        OpenApiParameter.QUERY,
        description=description,
        explode=explode,
        style="form" if explode is not None else None,
    )


ORDERINGS = sorted(
    f"{sign}{name}" for name in HistoryFilter.base_filters["ordering"].param_map for sign in "-"
) + sorted(HistoryFilter.base_filters["ordering"].param_map)
# An ISO 8601 instant InstantField takes: a UTC offset within ±14:00, no leap
# second, and a year (0002-9998) that stays in range once converted to UTC.
_INSTANT = {
    "type": "string",
    "format": "date-time",
    "pattern": (
        r"^(?:000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]"
        r"|999[0-8])-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
        r"(?:\.[0-9]{1,6})?(?:Z|[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))$"
    ),
}
_PAGE = {"type": "integer", "minimum": 1, "maximum": 999_999_999}
_TEXT = {"type": "string", "maxLength": MAX_TEXT, "pattern": "^[^\\u0000]*$"}
# What HistoryFilter refuses, in the schema: a list given but empty, text over
# MAX_TEXT characters or with NUL.
HISTORY_PARAMETERS = [
    _history_parameter(
        "status",
        {"type": "array", "minItems": 1, "items": {"enum": list(VISIBLE_STATUSES)}},
        "One or more statuses: repeat the parameter or separate with commas.",
        explode=True,
    ),
    _history_parameter(
        "ordering",
        {"type": "array", "minItems": 1, "items": {"enum": ORDERINGS}},
        "Sort fields, comma-separated, '-' for descending; newest first by default.",
        explode=False,
    ),
    _history_parameter("created_after", _INSTANT, "From this instant on (ISO 8601)."),
    _history_parameter("created_before", _INSTANT, "Before this instant (ISO 8601)."),
    # Whole numbers of at most nine digits (HistoryPagination); past the last page, 404.
    _history_parameter("page", _PAGE, "A page number, from 1."),
    _history_parameter("page_size", _PAGE, "Lines per page (above the maximum is capped)."),
    _history_parameter("provider", _TEXT, "Only this provider."),
    _history_parameter("model_used", _TEXT, "Only this model."),
    _history_parameter("search", _TEXT, "Text in the prompt or the file name."),
    _history_parameter(
        "q",
        _TEXT,
        "Full-text search of prompts, results, transcripts and text read from pictures "
        '(web search syntax: "a phrase", or, -word); ranked, newest first among equals. '
        "Only stop words or punctuation: 400.",
    ),
]

"""Answers in the caller's JSON Schema (``options.response_schema``, issue 13).

All the JSON Schema rules live here, so the submit door, every provider and the
pipeline apply the same ones:

- ``check_schema`` on submit: a JSON object of at most 16 KB serialized, valid
  against its metaschema (Draft 2020-12 unless ``$schema`` names another draft),
  whose references stay inside it (the service fetches nothing);
- ``refuses_structured_mode`` tells a provider that a model or endpoint has no
  native structured mode (an HTTP 400 about ``response_format`` or the response
  schema), so it asks again with the schema as instructions in the prompt;
- ``answer`` asks, parses (``parse_answer``: code fences and prose around the
  JSON are dropped), validates, and when the answer does not match asks ONCE
  more with the validation problem and the previous answer; a second miss is
  :class:`SchemaMismatch` (``schema_mismatch``), with the raw answers kept in
  the failed request's metadata.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match
from jsonschema.validators import validator_for
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from analysis.providers.base import ProviderRequest, ProviderResult, SchemaRepair
from media_analysis.errors import InvalidRequest, ServiceError

MAX_SCHEMA_BYTES = 16 * 1024
FIELD = "options.response_schema"

INVALID_RESPONSE_SCHEMA = "invalid_response_schema"
RESPONSE_SCHEMA_TOO_LARGE = "response_schema_too_large"
SCHEMA_MISMATCH = "schema_mismatch"

# How the JSON was asked for (``ProviderResult.structured_mode``).
NATIVE, PROMPT, FACTS = "native", "prompt", "facts"

# A raw answer is bounded by the provider's output tokens already; these bounds
# keep a failed request's metadata and message readable all the same.
MAX_KEPT_ANSWER_CHARS = 32_000
MAX_MESSAGE_ANSWER_CHARS = 1_000
MAX_PROBLEM_CHARS = 500

# Words in a provider's 400 that say the structured mode itself was refused
# (OpenAI-compatible servers name response_format / json_schema; Gemini names
# the response schema fields, in either spelling).
_REFUSAL_WORDS = (
    "response_format",
    "json_schema",
    "response_schema",
    "responseschema",
    "response_json_schema",
    "responsejsonschema",
    "response_mime_type",
    "responsemimetype",
    "structured output",
)
_FENCED = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)


# ------------------------------------------------------------------ on submit
def serialized_size(schema: Any) -> int:
    """Bytes of ``schema`` as compact UTF-8 JSON: what the 16 KB limit counts."""
    return len(json.dumps(schema, separators=(",", ":"), ensure_ascii=False).encode())


def check_schema(schema: Any) -> dict[str, Any]:
    """``schema`` when it may be a request's response schema; else InvalidRequest
    naming the problem (a 400 on submit, nothing stored)."""
    if not isinstance(schema, dict):
        raise InvalidRequest(
            INVALID_RESPONSE_SCHEMA,
            "response_schema must be a JSON object holding a JSON Schema.",
            field=FIELD,
        )
    if not _storable(schema):
        # PostgreSQL's jsonb holds no NUL and UTF-8 no lone surrogate: refused here,
        # not a 500 when the request is stored.
        raise InvalidRequest(
            INVALID_RESPONSE_SCHEMA,
            "response_schema must be valid text without NUL characters.",
            field=FIELD,
        )
    size = serialized_size(schema)
    if size > MAX_SCHEMA_BYTES:
        raise InvalidRequest(
            RESPONSE_SCHEMA_TOO_LARGE,
            f"response_schema is {size:,} bytes as compact JSON; at most "
            f"{MAX_SCHEMA_BYTES:,} (16 KB) are allowed.",
            field=FIELD,
        )
    dialect = schema.get("$schema")
    if dialect is not None and (
        not isinstance(dialect, str) or validator_for(schema, default=None) is None
    ):
        raise InvalidRequest(
            INVALID_RESPONSE_SCHEMA,
            f"response_schema names an unknown $schema {dialect!r}; leave it out for "
            "Draft 2020-12, or name a JSON Schema draft (4, 6, 7, 2019-09, 2020-12).",
            field=FIELD,
        )
    try:
        validator_class(schema).check_schema(schema)
    except SchemaError as exc:
        raise InvalidRequest(
            INVALID_RESPONSE_SCHEMA,
            f"response_schema is not a valid JSON Schema: {_clip(exc.message)} "
            f"(at {_where(exc.absolute_path)}).",
            field=FIELD,
        ) from None
    _check_references(schema)
    return schema


def _storable(node: Any) -> bool:
    """Whether every key and text in ``node`` is text PostgreSQL can store."""
    if isinstance(node, str):
        if "\x00" in node:
            return False
        try:
            node.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(node, dict):
        return all(_storable(key) and _storable(value) for key, value in node.items())
    if isinstance(node, list):
        return all(_storable(item) for item in node)
    return True


def validator_class(schema: Mapping[str, Any]) -> type:
    """The validator of the draft ``$schema`` names, Draft 2020-12 by default."""
    return validator_for(schema, default=Draft202012Validator)


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("$ref", "$dynamicRef") and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def _check_references(schema: dict[str, Any]) -> None:
    """Every ``$ref`` points inside the schema and resolves there: a reference to
    a URL would be unresolvable at answer time (nothing is fetched, by design)."""
    resolver = Registry().resolver_with_root(
        Resource.from_contents(schema, default_specification=DRAFT202012)
    )
    for reference in _references(schema):
        if not reference.startswith("#"):
            raise InvalidRequest(
                INVALID_RESPONSE_SCHEMA,
                f"response_schema refers to {reference[:200]!r}: only references inside "
                "the schema (#/$defs/...) are supported; the service fetches nothing.",
                field=FIELD,
            )
        try:
            resolver.lookup(reference)
        except Unresolvable:
            raise InvalidRequest(
                INVALID_RESPONSE_SCHEMA,
                f"response_schema refers to {reference[:200]!r}, which is not in the schema.",
                field=FIELD,
            ) from None


# ------------------------------------------------------------------ providers
def refuses_structured_mode(status: int | None, message: str) -> bool:
    """Whether an HTTP error says the native structured mode itself was refused
    (not the request as a whole): then instructions in the prompt are tried."""
    lowered = message.lower()
    return status == 400 and any(word in lowered for word in _REFUSAL_WORDS)


def schema_name(schema: Mapping[str, Any]) -> str:
    """The ``json_schema.name`` OpenAI wants (letters, digits, _ and -, at most 64)."""
    title = schema.get("title")
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", title).strip("_")[:64] if isinstance(title, str) else ""
    return name or "response"


def schema_text(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=1)


# ------------------------------------------------------------------- answers
class AnswerProblem(ValueError):
    """Why an answer is not the data the schema asks for (for the repair ask)."""


def parse_answer(text: str) -> Any:
    """The JSON in a model's answer: the whole text, else a fenced ```json block,
    else the outermost {...} or [...] (models in prompt mode add prose)."""
    stripped = text.strip()
    candidates = [stripped]
    candidates += [block.strip() for block in _FENCED.findall(stripped)]
    for opening, closing in ("{}", "[]"):
        start, end = stripped.find(opening), stripped.rfind(closing)
        if 0 <= start < end:
            candidates.append(stripped[start : end + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    raise AnswerProblem("the answer is not JSON (no JSON value could be read from it)")


def validation_problem(data: Any, schema: Mapping[str, Any]) -> str | None:
    """What is wrong with ``data`` against ``schema`` (the most relevant error), or
    None when it matches."""
    validator = validator_class(schema)(schema)
    try:
        error = best_match(validator.iter_errors(data))
    except Unresolvable as exc:  # checked on submit; a schema stored before that rule
        raise ServiceError(
            INVALID_RESPONSE_SCHEMA, f"the response schema cannot be resolved: {exc}"
        ) from None
    if error is None:
        return None
    return f"at {_where(error.absolute_path)}: {_clip(error.message)}"


@dataclass(frozen=True)
class StructuredAnswer:
    """A validated answer: ``result`` covers every ask (tokens, cost and latency
    summed over the repair), ``data`` is the JSON that matched the schema."""

    result: ProviderResult
    data: Any
    repaired: bool
    first_problem: str | None = None


class SchemaMismatch(ServiceError):
    """The answer did not match the schema, even after one repair attempt."""

    http_status = 502

    def __init__(self, problem: str, answers: list[str], spent: ProviderResult) -> None:
        last = answers[-1]
        clipped = last[:MAX_MESSAGE_ANSWER_CHARS] + (
            "..." if len(last) > MAX_MESSAGE_ANSWER_CHARS else ""
        )
        asks = (
            "after one repair attempt"
            if len(answers) > 1
            else "(no repair: the provider fills it from facts)"
        )
        super().__init__(
            SCHEMA_MISMATCH,
            f"The answer did not match the response schema {asks}: {problem}. "
            f"Raw answer: {clipped}",
        )
        self.problem = problem
        self.answers = [answer[:MAX_KEPT_ANSWER_CHARS] for answer in answers]
        self.spent = spent

    @property
    def failure_metadata(self) -> dict[str, Any]:
        spent = self.spent
        return {
            SCHEMA_MISMATCH: {
                "problem": self.problem,
                "answers": self.answers,
                "provider": spent.provider,
                "model_used": spent.model_used,
                "structured_mode": spent.structured_mode,
                "input_tokens": spent.input_tokens,
                "output_tokens": spent.output_tokens,
                "cost_usd": None if spent.cost_usd is None else str(spent.cost_usd),
            }
        }


def answer(
    ask: Callable[[ProviderRequest], ProviderResult], request: ProviderRequest
) -> StructuredAnswer:
    """Ask with ``request`` (which carries the schema), validate, repair once."""
    schema = request.response_schema
    if schema is None:
        raise ValueError("answer() needs a request with a response_schema")
    first = ask(request)
    data, problem = _check(first, schema)
    if problem is None:
        return StructuredAnswer(first, data, repaired=False)
    if first.data is not None:
        # Built by the provider from measurements: asking again gives the same.
        raise SchemaMismatch(problem, [_raw(first)], first)
    second = ask(replace(request, repair=SchemaRepair(previous_answer=first.text, problem=problem)))
    both = _combined(first, second)
    data, second_problem = _check(second, schema)
    if second_problem is None:
        return StructuredAnswer(both, data, repaired=True, first_problem=problem)
    raise SchemaMismatch(second_problem, [_raw(first), _raw(second)], both)


def _check(result: ProviderResult, schema: Mapping[str, Any]) -> tuple[Any, str | None]:
    if result.data is not None:
        return result.data, validation_problem(result.data, schema)
    try:
        data = parse_answer(result.text)
    except AnswerProblem as exc:
        return None, str(exc)
    return data, validation_problem(data, schema)


def _raw(result: ProviderResult) -> str:
    if result.data is not None:
        return json.dumps(result.data, ensure_ascii=False)
    return result.text


def _combined(first: ProviderResult, second: ProviderResult) -> ProviderResult:
    """The second answer, with what both asks spent."""

    def total(a: Any, b: Any) -> Any:
        return None if a is None and b is None else (a or 0) + (b or 0)

    cost: Decimal | None = None
    if first.cost_usd is not None and second.cost_usd is not None:
        cost = first.cost_usd + second.cost_usd  # an unknown part makes the total unknown
    return replace(
        second,
        input_tokens=total(first.input_tokens, second.input_tokens),
        output_tokens=total(first.output_tokens, second.output_tokens),
        cost_usd=cost,
        cost_source=second.cost_source if cost is not None else None,
        latency_ms=first.latency_ms + second.latency_ms,
        attempts=first.attempts + second.attempts,
        raw_usage={**second.raw_usage, "before_repair": first.raw_usage},
    )


def _where(path: Any) -> str:
    parts = [str(part) for part in path]
    return "/" + "/".join(parts) if parts else "the top level"


def _clip(text: str) -> str:
    return text if len(text) <= MAX_PROBLEM_CHARS else text[:MAX_PROBLEM_CHARS] + "..."

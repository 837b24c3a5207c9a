"""schemathesis hooks for the fuzz run (tests/api/test_fuzz.py loads this module
through SCHEMATHESIS_HOOKS).

One check, in place of schemathesis's positive_data_acceptance: the same check,
with five refusals of schema-valid data accepted, each one the schema cannot
state, and only those:

* a URL that matches the schema's pattern (the URL guard's syntax, exactly) naming
  a host that does not resolve or resolves to a private address: known only once
  the host is resolved. 400 ``url_unresolvable`` / ``url_private_address`` naming
  the URL field.
* ``options.frames`` above the cells of the grid (``options.grid`` or the service's
  CONTACT_SHEET_GRID): a product of two other values, which JSON Schema cannot
  compute (short of one branch per grid). The schema bounds frames to 1..100, so a
  schema-valid request gets this 400 ``invalid_frames`` for that reason only.
* a ``response_schema`` that is not a valid JSON Schema, or over 16 KB as compact
  JSON: a JSON Schema's validity is its metaschema's (2020-12, or the draft its
  ``$schema`` names), which an OpenAPI 3.0 schema cannot state, nor a size in
  bytes of nested JSON. 400 ``invalid_response_schema`` /
  ``response_schema_too_large`` naming ``options.response_schema``.
* a provider the schema names (it lists every one) that this service has no
  credentials for: 400 ``provider_not_configured``, a setting of the service.
* a history ``q`` of stop words or punctuation only ("the"): 400 naming ``q``;
  stop words are the text-search dictionary's, a list no pattern can state.
* an Idempotency-Key the run already used with other fields: 422
  ``idempotency_key_reused``, from what was sent before, not from the request.

Any other refusal of schema-valid data fails as the built-in check fails it. A
batch's 400 ``batch_invalid`` passes only if every item's problem is one of these.

And one check in place of negative_data_rejection, correcting two false positives
of schemathesis 4.32's stateful phase, which never checks what its mutations left:
- to break a ``pattern`` it appends "*" to a valid value (``violate_pattern``:
  "naive"), so a prompt "0" becomes "0*", which the prompt's pattern admits;
- to break one branch of a ``oneOf`` it sends "", which another branch admits (a
  multipart field sent blank, as if omitted: analysis/api/schema_closed.py).
Either way the API's 202 is reported as "schema-violating request accepted". A
case whose every mutation left a value the schema still admits (the pattern
checked with schemathesis's own validator) is not negative data and is skipped;
every other case is judged by the built-in check.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.core.jsonschema import matches_pattern
from schemathesis.core.mutations import OperatorKind
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

URL_FIELDS = {"media_url", "callback_url", "url"}


def _not_of_shape(problem: Any) -> bool:
    if not isinstance(problem, dict):
        return False
    code, field = problem.get("code"), problem.get("field")
    if code in ("url_unresolvable", "url_private_address"):
        return field in URL_FIELDS
    if code in ("invalid_response_schema", "response_schema_too_large"):
        return field == "options.response_schema"
    if code == "provider_not_configured":
        return field == "provider"
    if field == "q" and "No words to search for" in str(problem.get("message")):
        # Stop words are the text-search dictionary's (HISTORY_SEARCH_LANGUAGE), a
        # list no pattern states: "the" alone is a valid string and no search.
        return True
    return code == "invalid_frames" and field == "options.frames"


def refused_for_state_not_shape(status: int, body: bytes) -> bool:
    """Whether the answer is one of the refusals above."""
    try:
        error = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return False
    if status == 422:
        return error.get("code") == "idempotency_key_reused"
    if status != 400:
        return False
    if error.get("code") == "batch_invalid" and error.get("items"):
        return all(_not_of_shape(item) for item in error["items"])
    return _not_of_shape(error)


# The test names a file here, which the check creates: proof that it ran (with the
# built-in check disabled, a check that never ran would pass everything).
MARKER = "FUZZ_CHECK_MARKER"


@schemathesis.check
def positive_data_acceptance_but_semantics(ctx, response, case) -> bool | None:
    if os.environ.get(MARKER):
        Path(os.environ[MARKER]).touch()
    if refused_for_state_not_shape(response.status_code, response.content):
        return None
    return positive_data_acceptance(ctx, response, case)


def _follow(root: dict[str, Any], node: Any) -> dict[str, Any]:
    for _ in range(10):
        if not isinstance(node, dict):
            return {}
        if "$ref" in node:
            target: Any = root
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            node = target
        elif len(node.get("allOf", [])) == 1 and "properties" not in node:
            node = node["allOf"][0]
        else:
            return node
    return {}


def _schema_at(case, path: tuple) -> dict[str, Any]:
    root = case.operation.schema.raw_schema
    content = case.operation.definition.raw.get("requestBody", {}).get("content", {})
    node = _follow(root, content.get(case.media_type or "", {}).get("schema"))
    for segment in path:
        key = "items" if isinstance(segment, int) else "properties"
        node = node.get(key, {})
        node = _follow(root, node if isinstance(segment, int) else node.get(segment))
    return node


def _still_valid(case, mutation) -> bool:
    """The mutated value is one the field's schema still admits."""
    new, old = mutation.new_value, mutation.original_value
    node = _schema_at(case, tuple(mutation.path))
    if new == "" and any(option.get("maxLength") == 0 for option in node.get("oneOf", [])):
        # A blank multipart field (analysis/api/schema_closed.py: as if omitted):
        # schemathesis broke one branch of the oneOf and took it for the whole.
        return True
    if (
        mutation.operator == OperatorKind.VALUE_VIOLATOR
        and mutation.keywords == ("pattern",)
        and isinstance(new, str)
        and isinstance(old, str)
        and new == old + "*"
    ):
        pattern = node.get("pattern")
        return pattern is not None and matches_pattern(pattern)(new)
    return False


def _mislabelled_negative(case) -> bool:
    """Every mutation left a value the schema still admits: an appended "*" that
    the pattern admits, or a blank where a form field admits blank."""
    mutations = getattr(getattr(case.meta, "phase", None), "data", None)
    mutations = getattr(mutations, "mutations", ()) if mutations is not None else ()
    return bool(mutations) and all(_still_valid(case, mutation) for mutation in mutations)


@schemathesis.check
def negative_data_rejection_of_real_negatives(ctx, response, case) -> bool | None:
    if os.environ.get(MARKER):
        Path(os.environ[MARKER]).touch()
    if case.meta is not None and _mislabelled_negative(case):
        return None
    return negative_data_rejection(ctx, response, case)

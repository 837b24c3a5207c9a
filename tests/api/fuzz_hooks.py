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
* an Idempotency-Key the run already used with other fields: 422
  ``idempotency_key_reused``, from what was sent before, not from the request.

Any other refusal of schema-valid data fails as the built-in check fails it. A
batch's 400 ``batch_invalid`` passes only if every item's problem is one of these.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

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

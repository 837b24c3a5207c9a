"""drf-spectacular postprocessing hooks that state what holds for every request:

* request objects whose unknown keys the service refuses are closed in the schema
  (``additionalProperties: false``), so a client that trusts the schema never sends
  a key that gets a 400. DRF serializers ignore unknown top-level fields;
  ``options`` is passed to ``AnalysisOptions.parse``, which refuses them
  (``unknown_option``).
* every operation that takes a body documents the two answers any body can get
  from the exception handler (analysis/api/exceptions.py): 413 ``request_too_large``
  (over DATA_UPLOAD_MAX_MEMORY_SIZE) and 415 (a content type it does not parse).
* in a multipart form, an optional field sent empty is as if omitted (DRF reads
  form input so): each such field also admits "" in the schema."""

from __future__ import annotations

from typing import Any

# Request components (COMPONENT_SPLIT_REQUEST names them "...Request").
CLOSED = ("OptionsRequest",)


def close_objects(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict:
    schemas = result.get("components", {}).get("schemas", {})
    for name in CLOSED:
        if name not in schemas:
            raise LookupError(f"schema: no component {name} to close")
        schemas[name]["additionalProperties"] = False
    return result


BODY_REFUSALS = {
    "413": "The request body (or upload) is over the size limit.",
    "415": "A content type this operation does not take.",
}


def document_body_refusals(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict:
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for item in result.get("paths", {}).values():
        for operation in item.values():
            if "requestBody" not in operation:
                continue
            responses = operation["responses"]
            for status, description in BODY_REFUSALS.items():
                responses.setdefault(status, {"content": error, "description": description})
    return result


# Components sent as multipart/form-data.
FORMS = ("AnalyzeUploadRequest",)
_BLANK = {"type": "string", "maxLength": 0}


def _admits_blank(schema: dict[str, Any]) -> bool:
    return any(
        option.get("maxLength") == 0 or "BlankEnum" in option.get("$ref", "")
        for option in schema.get("oneOf", [])
    )


def blank_form_fields(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict:
    schemas = result.get("components", {}).get("schemas", {})
    for name in FORMS:
        form = schemas[name]
        required = set(form.get("required", []))
        for field, schema in form["properties"].items():
            if field in required or _admits_blank(schema):
                continue
            notes = {key: schema.pop(key) for key in ("description",) if key in schema}
            form["properties"][field] = {"oneOf": [schema, dict(_BLANK)], **notes}
    return result

"""A drf-spectacular postprocessing hook: request objects whose unknown keys the
service refuses are closed in the schema (``additionalProperties: false``), so a
client that trusts the schema never sends a key that gets a 400. DRF serializers
ignore unknown top-level fields; ``options`` is passed to ``AnalysisOptions.parse``,
which refuses them (``unknown_option``)."""

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

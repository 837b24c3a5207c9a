"""OpenAPI links: what a client can do next with the id an answer gives it.

A drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])
adds ``links`` to the answers that create something: the submission's ``id`` leads
to its status, retry, cancel, delete, contact sheet, frames and audit trail; a
batch's to the batch and its first request; a webhook endpoint's to reading,
changing, deleting it and rotating its secret. Stateful tools (schemathesis) and
generated clients follow them, so they chain analyze -> status -> retry/cancel/delete
with ids that exist. Targets are named by path and method, not by operationId, so
renaming an operation cannot silently leave a link dangling: an unknown target stops
the schema from being built.
"""

from __future__ import annotations

from typing import Any

REQUEST_ID = "$response.body#/id"

# (path, method, status) of an answer -> {link name: (target path, method, parameters)}
LINKS: dict[tuple[str, str, str], dict[str, tuple[str, str, dict[str, Any]]]] = {}

_REQUEST_TARGETS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "status": ("/api/media/status/{id}", "get", {"id": REQUEST_ID}),
    "retry": ("/api/media/{id}/retry", "post", {"id": REQUEST_ID}),
    "cancel": ("/api/media/{id}/cancel", "post", {"id": REQUEST_ID}),
    "delete": ("/api/media/{id}", "delete", {"id": REQUEST_ID}),
    "contact_sheet": ("/api/media/{id}/contact-sheet", "get", {"id": REQUEST_ID}),
    "first_frame": ("/api/media/{id}/frames/{index}", "get", {"id": REQUEST_ID, "index": 1}),
    "audit": ("/api/media/{id}/audit", "get", {"id": REQUEST_ID}),
}
LINKS[("/api/media/analyze", "post", "202")] = _REQUEST_TARGETS
# A retry or a cancel answers with the same request.
LINKS[("/api/media/{id}/retry", "post", "202")] = _REQUEST_TARGETS
LINKS[("/api/media/{id}/cancel", "post", "200")] = _REQUEST_TARGETS
LINKS[("/api/media/analyze/batch", "post", "202")] = {
    "batch": ("/api/media/batch/{id}", "get", {"id": REQUEST_ID}),
    "first_item_status": (
        "/api/media/status/{id}",
        "get",
        {"id": "$response.body#/item_ids/0"},
    ),
}
_ENDPOINT_TARGETS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "get": ("/api/webhooks/{id}", "get", {"id": REQUEST_ID}),
    "update": ("/api/webhooks/{id}", "patch", {"id": REQUEST_ID}),
    "delete": ("/api/webhooks/{id}", "delete", {"id": REQUEST_ID}),
    "rotate_secret": ("/api/webhooks/{id}/rotate-secret", "post", {"id": REQUEST_ID}),
}
LINKS[("/api/webhooks", "post", "201")] = _ENDPOINT_TARGETS
LINKS[("/api/webhooks/{id}", "patch", "200")] = _ENDPOINT_TARGETS


def add_links(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: ``LINKS`` into the schema's answers."""
    paths = result.get("paths", {})
    for (path, method, status), links in LINKS.items():
        operation = paths.get(path, {}).get(method)
        if operation is None or status not in operation.get("responses", {}):
            raise LookupError(f"schema links: no {status} answer of {method.upper()} {path}")
        operation["responses"][status]["links"] = {
            name: _link(paths, target, target_method, parameters)
            for name, (target, target_method, parameters) in links.items()
        }
    return result


def _link(
    paths: dict[str, Any], target: str, method: str, parameters: dict[str, Any]
) -> dict[str, Any]:
    operation = paths.get(target, {}).get(method)
    if operation is None:
        raise LookupError(f"schema links: no operation {method.upper()} {target}")
    return {
        "operationId": operation["operationId"],
        "parameters": dict(parameters),
        "description": operation.get("summary") or f"{method.upper()} {target}",
    }

"""The OpenAPI schema is valid and covers every endpoint; Swagger UI is served from
our own static files (no CDN)."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from django.urls import get_resolver
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

PLAN = {
    ("/api/media/analyze", "post"),
    ("/api/media/status/{id}", "get"),
    ("/api/media/{id}/contact-sheet", "get"),
    ("/api/media/{id}/frames/{index}", "get"),  # issue 13
    ("/api/media/history", "get"),
    ("/api/media/{id}/retry", "post"),
    ("/api/media/{id}/cancel", "post"),
    ("/api/media/{id}", "delete"),
    ("/api/media/{id}/audit", "get"),  # issue 6
    ("/api/webhooks", "get"),  # issue 14
    ("/api/webhooks", "post"),
    ("/api/webhooks/{id}", "get"),
    ("/api/webhooks/{id}", "patch"),
    ("/api/webhooks/{id}", "delete"),
    ("/api/webhooks/{id}/rotate-secret", "post"),
    ("/api/webhooks/callback-secret", "post"),
    ("/api/media/analyze/batch", "post"),  # issue 14
    ("/api/media/batch/{id}", "get"),
    ("/api/media/estimate", "post"),  # issue 14: cost control
    ("/api/usage", "get"),
}


@pytest.fixture
def schema(alice) -> dict:
    response = alice.client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_valid_openapi(schema):
    validate_schema(schema)  # raises on any violation of the OpenAPI 3 spec
    assert schema["openapi"].startswith("3.")


def test_the_schema_covers_every_endpoint_of_the_plan(schema):
    operations = {(path, method) for path, item in schema["paths"].items() for method in item}
    assert operations == PLAN


def test_every_api_route_is_in_the_schema(schema):
    routes = set()
    for pattern in get_resolver().url_patterns:
        if str(pattern.pattern) == "api/":
            for inner in pattern.url_patterns:
                route = "/api/" + str(inner.pattern).replace("<str:id>", "{id}")
                route = route.replace("<str:index>", "{index}")
                if route.startswith(("/api/media", "/api/webhooks", "/api/usage")):
                    routes.add(route)
    assert routes == {path for path, _ in PLAN}


def test_every_operation_needs_a_token_and_documents_its_errors(schema):
    assert "tokenAuth" in schema["components"]["securitySchemes"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            assert operation["security"] == [{"tokenAuth": []}], (path, method)
            assert {"400", "401", "404", "429", "503"} <= set(operation["responses"]), (
                path,
                method,
            )
            if "requestBody" in operation:  # any body may be too large or of a wrong type
                assert {"413", "415"} <= set(operation["responses"]), (path, method)
            for status, answer in operation["responses"].items():
                if status.startswith(("4", "5")):  # the one error shape
                    schema_of = answer["content"]["application/json"]["schema"]
                    assert schema_of == {"$ref": "#/components/schemas/Error"}, (path, status)


def test_swagger_ui_is_served_without_a_cdn(staff):
    staff.client.force_login(staff.user)
    response = staff.client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    for cdn in ("cdn.jsdelivr.net", "unpkg.com", "cdnjs", "googleapis"):
        assert cdn not in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


def test_the_docs_need_a_signed_in_user_or_a_token(client, alice):
    assert client.get("/api/docs/").status_code in (401, 403)
    assert alice.client.get("/api/docs/").status_code == 200


def _operation_ids(schema) -> dict[str, tuple[str, str]]:
    return {
        operation["operationId"]: (path, method)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }


def test_links_lead_from_what_creates_an_id_to_what_uses_it(schema):
    ids = _operation_ids(schema)

    def targets(path, method, status):
        links = schema["paths"][path][method]["responses"][status]["links"]
        for link in links.values():
            assert link["operationId"] in ids, link  # a real operation
            target_path, _ = ids[link["operationId"]]
            # Every path parameter of the target is given, from the answer or constant.
            needed = {part[1:-1] for part in target_path.split("/") if part.startswith("{")}
            assert set(link["parameters"]) == needed, link
        return {ids[link["operationId"]] for link in links.values()}, links

    analyzed, links = targets("/api/media/analyze", "post", "202")
    assert analyzed == {
        ("/api/media/status/{id}", "get"),
        ("/api/media/{id}/retry", "post"),
        ("/api/media/{id}/cancel", "post"),
        ("/api/media/{id}", "delete"),
        ("/api/media/{id}/contact-sheet", "get"),
        ("/api/media/{id}/frames/{index}", "get"),
        ("/api/media/{id}/audit", "get"),
    }
    assert links["status"]["parameters"] == {"id": "$response.body#/id"}
    assert targets("/api/media/{id}/retry", "post", "202")[0] == analyzed
    batch, links = targets("/api/media/analyze/batch", "post", "202")
    assert batch == {("/api/media/batch/{id}", "get"), ("/api/media/status/{id}", "get")}
    assert links["first_item_status"]["parameters"] == {"id": "$response.body#/item_ids/0"}
    assert targets("/api/webhooks", "post", "201")[0] == {
        ("/api/webhooks/{id}", "get"),
        ("/api/webhooks/{id}", "patch"),
        ("/api/webhooks/{id}", "delete"),
        ("/api/webhooks/{id}/rotate-secret", "post"),
    }


def test_the_url_pattern_is_the_url_guards_syntax():
    """Every URL the schema's pattern admits passes validate_url; what the guard
    refuses for its form, the pattern refuses too."""
    import re

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from analysis.api.schema_fields import URL_PATTERN
    from analysis.ingest.url_guard import validate_url

    pattern = re.compile(URL_PATTERN)

    @settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.from_regex(URL_PATTERN))
    def admitted_is_valid(url):
        validate_url(url)  # raises UnsafeURLError on a syntax refusal

    admitted_is_valid()
    for refused in ("HTTP://", "http://a:0/", "http://a:65536/", "http://-a/", "http://a..b/"):
        assert not pattern.match(refused), refused
    for url in ("http://example.com", "HTTPS://a.b:8443/x?y#z", "http://[2001:db8::1]/v"):
        assert pattern.match(url), url
        validate_url(url)


def test_the_prompt_and_resolution_patterns_are_their_rules():
    import re

    from django.conf import settings
    from hypothesis import HealthCheck, given
    from hypothesis import settings as examples
    from hypothesis import strategies as st

    from analysis.api.schema_fields import PROMPT_SCHEMA, RESOLUTION_PATTERN
    from analysis.options import parse_resolution
    from analysis.services import validate_prompt

    prompt = re.compile(PROMPT_SCHEMA["pattern"])
    assert PROMPT_SCHEMA["maxLength"] == settings.MEDIA_ANALYSIS_MAX_PROMPT_CHARS

    @examples(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.from_regex(PROMPT_SCHEMA["pattern"]).filter(lambda t: len(t) <= 10_000))
    def admitted_is_valid(text):
        validate_prompt(text)  # raises InvalidRequest on a refusal

    admitted_is_valid()
    for blank in ("", " ", "\t\n", "\u3000\u00a0", "\x1c", "a\x00b"):
        assert not prompt.match(blank), repr(blank)
    resolution = re.compile(RESOLUTION_PATTERN)
    for size in range(100, 10_000):
        for text in (f"{size}x1080", f"1920x{size}"):
            assert bool(resolution.match(text)) == (parse_resolution(text) is not None), text

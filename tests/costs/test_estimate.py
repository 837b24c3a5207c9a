"""``POST /api/media/estimate``: the analyze body, answered with the expected tokens
and USD, without creating anything; checked against what a run against the local
provider (which bills from what it is actually sent) records."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from analysis.models import AnalysisRequest, AnalysisResult
from analysis.pipeline import run_analysis
from storage_app.models import MediaFile
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db(transaction=True)

# The estimate is within this much of the recorded cost (either way) when its
# assumptions hold (a typical answer length); measured: see the report line below.
BAND = Decimal("0.30")
PROMPT = "Describe this picture: what it shows, its colours and its proportions."


def _upload(client, path, url="/api/media/estimate", **fields):
    with path.open("rb") as media:
        return client.post(
            url,
            {"file": media, "prompt": PROMPT, "provider": "openai", **fields},
            format="multipart",
        )


def _within_band(estimated: Decimal, recorded: Decimal) -> bool:
    return abs(estimated - recorded) <= BAND * recorded


@pytest.mark.parametrize("media", ["photo", "clip"])
def test_an_estimate_lands_within_the_band_of_the_recorded_cost(
    request, alice, billing, storage_root, media
):
    path = request.getfixturevalue(media)
    estimate = _upload(alice.client, path)
    assert estimate.status_code == 200, estimate.content
    body = estimate.json()
    assert body["provider"] == "openai" and body["model"] == "gpt-4o-mini"
    assert body["media_type"] == {"photo": "image", "clip": "video"}[media]
    assert (
        body["basis"]["source"] == "upload" and body["basis"]["size_bytes"] == path.stat().st_size
    )
    assert body["basis"]["price"] == {
        "input_per_million_usd": "0.15",
        "output_per_million_usd": "0.60",
    }
    assert body["assumptions"] and all(isinstance(line, str) for line in body["assumptions"])
    assert billing.hits == 0  # an estimate asks no provider

    submitted = _upload(alice.client, path, url="/api/media/analyze")
    assert submitted.status_code == 202, submitted.content
    assert run_analysis(submitted.json()["id"]) == "completed"

    result = AnalysisResult.objects.get(request_id=submitted.json()["id"])
    assert billing.hits == 1
    usage = billing.calls[0]["usage"]
    assert (result.input_tokens, result.output_tokens) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    assert result.metadata["cost_source"] == "price_table"
    estimated = Decimal(body["cost_usd"])
    print(
        f"\n{media}: estimated {body['input_tokens']}+{body['output_tokens']} tokens "
        f"{estimated} USD; recorded {result.input_tokens}+{result.output_tokens} tokens "
        f"{result.cost_usd} USD ({(estimated / result.cost_usd - 1) * 100:+.1f} %)"
    )
    assert _within_band(estimated, result.cost_usd), (estimated, result.cost_usd)


def test_an_estimate_creates_nothing_and_keeps_no_file(alice, billing, photo, storage_root):
    before = {path for path in storage_root.rglob("*") if path.is_file()}

    response = _upload(alice.client, photo)

    assert response.status_code == 200, response.content
    assert not AnalysisRequest.objects.exists()
    assert not MediaFile.objects.exists()
    assert {path for path in storage_root.rglob("*") if path.is_file()} == before
    assert billing.hits == 0


def test_a_url_is_estimated_from_its_extension_without_fetching_it(alice, billing, settings):
    settings.MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS = True
    # Port 9 (discard) answers nothing: a fetch would fail, the estimate must not try.
    response = alice.client.post(
        "/api/media/estimate",
        {
            "media_url": "http://127.0.0.1:9/talk.mp4",
            "prompt": "What happens?",
            "provider": "openai",
            "options": {"grid": "3x3", "max_cost_usd": 0.5},
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["media_type"] == "video"
    assert body["basis"]["source"] == "url" and body["basis"]["extension_type"] == "video/mp4"
    assert any("contact sheet of 1920x1080" in line for line in body["assumptions"])
    assert Decimal(body["cost_usd"]) > 0
    assert body["within_budget"] is True and body["budget"]["today"]["limit_usd"] is None
    assert not AnalysisRequest.objects.exists()


def test_an_unknown_extension_is_priced_as_a_video_and_says_so(alice, billing, settings):
    settings.MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS = True
    response = alice.client.post(
        "/api/media/estimate",
        {"media_url": "http://127.0.0.1:9/download", "prompt": "?", "provider": "openai"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["media_type"] == "unknown"
    assert any("priced as a video" in line for line in response.json()["assumptions"])


def test_the_estimate_shows_the_budget_left(alice, billing, settings, photo):
    from tests.costs.conftest import record_spend

    settings.BUDGET_DAILY_USD = Decimal("1")
    settings.BUDGET_MONTHLY_USD = Decimal("0.25")
    record_spend(alice.user, "0.200000")

    body = _upload(alice.client, photo).json()

    assert body["budget"]["today"]["limit_usd"] == "1"
    assert body["budget"]["today"]["spent_usd"] == "0.200000"
    assert Decimal(body["budget"]["today"]["remaining_usd"]) == Decimal("0.8")
    assert Decimal(body["budget"]["month"]["remaining_usd"]) == Decimal("0.05")
    assert body["within_budget"] is True  # a photo costs far less than 0.05 USD


def test_a_model_without_a_price_is_estimated_with_an_unknown_cost(alice, billing, settings):
    settings.MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS = True
    response = alice.client.post(
        "/api/media/estimate",
        {
            "media_url": "http://127.0.0.1:9/a.png",
            "prompt": "?",
            "provider": "openai",
            "model": "local-llava",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["model"] == "local-llava" and body["cost_usd"] is None
    assert body["within_budget"] is None and body["basis"]["price"] is None
    assert any("no price" in line for line in body["assumptions"])


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"media_url": "http://127.0.0.1:9/a.mp4"}, "prompt_required", "prompt"),
        ({"media_url": "http://127.0.0.1:9/a.mp4", "prompt": " "}, "prompt_required", "prompt"),
        ({"prompt": "?"}, "media_url_required", "media_url"),
        (
            {"media_url": "http://127.0.0.1:9/a.mp4", "prompt": "?", "provider": "nope"},
            "unknown_provider",
            "provider",
        ),
        (
            {
                "media_url": "http://127.0.0.1:9/a.mp4",
                "prompt": "?",
                "options": {"max_cost_usd": 0},
            },
            "invalid_max_cost_usd",
            "options.max_cost_usd",
        ),
        (
            {
                "media_url": "http://127.0.0.1:9/a.mp4",
                "prompt": "?",
                "options": {"max_cost_usd": "x"},
            },
            "invalid_max_cost_usd",
            "options.max_cost_usd",
        ),
        (
            {"media_url": "http://127.0.0.1:9/a.mp4", "prompt": "?", "options": {"frames": 99}},
            "invalid_frames",
            "options.frames",
        ),
        (
            {"media_url": "http://127.0.0.1:9/a.mp4", "prompt": "?", "options": {"nope": 1}},
            "unknown_option",
            "options",
        ),
    ],
)
def test_bad_bodies_get_400_naming_the_problem(alice, settings, body, code, field):
    settings.MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS = True
    response = alice.client.post("/api/media/estimate", body, format="json")
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == code and error.get("field") == field
    assert not AnalysisRequest.objects.exists()


def test_a_private_address_is_refused_as_on_submit(alice):
    response = alice.client.post(
        "/api/media/estimate",
        {"media_url": "http://127.0.0.1:9/a.mp4", "prompt": "?"},
        format="json",
    )
    assert response.status_code in (400, 422), response.content
    assert error_of(response)["field"] == "media_url"


def test_a_multipart_body_with_bad_options_is_refused(alice, photo):
    with photo.open("rb") as media:
        response = alice.client.post(
            "/api/media/estimate",
            {"file": media, "prompt": "?", "options": json.dumps({"max_cost_usd": -1})},
            format="multipart",
        )
    assert response.status_code == 400
    assert error_of(response)["field"] == "options.max_cost_usd"


def test_an_estimate_needs_a_token(client):
    response = client.post("/api/media/estimate", {}, content_type="application/json")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        (29031.186795527206, "29031.186796"),  # any number the schema allows, to the µ$
        (0.1, "0.1"),
        ("0.05", "0.05"),
        (0.0000015, "0.000002"),
        (100000, "100000"),
    ],
)
def test_max_cost_usd_is_kept_to_the_micro_dollar(given, kept):
    from analysis.options import AnalysisOptions

    assert AnalysisOptions.parse({"max_cost_usd": given}).as_dict()["max_cost_usd"] == kept


@pytest.mark.parametrize("given", [0.0000001, 0, -1, 100000.5, "nan", True])
def test_max_cost_usd_outside_the_schemas_range_is_refused(given):
    from analysis.options import AnalysisOptions
    from media_analysis.errors import InvalidRequest

    with pytest.raises(InvalidRequest) as refused:
        AnalysisOptions.parse({"max_cost_usd": given})
    assert refused.value.field == "options.max_cost_usd"


def test_the_status_shows_max_cost_usd_as_the_number_the_schema_says(alice):
    submitted = alice.client.post(
        "/api/media/analyze",
        {
            "media_url": "http://93.184.216.34/a.jpg",
            "prompt": "?",
            "options": {"max_cost_usd": 39980.61961},
        },
        format="json",
    )
    assert submitted.status_code == 202, submitted.content
    status = alice.client.get(submitted.json()["links"]["status"])
    assert status.json()["options"]["max_cost_usd"] == 39980.61961

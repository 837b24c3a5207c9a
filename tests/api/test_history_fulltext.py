"""The history's full-text search, ``GET /api/media/history?q=`` (issue 14), on real
PostgreSQL: words of transcripts and of text read from pictures are found after a
real pipeline run (local transcription and chat servers, real OCR); prompt matches
rank above result matches; q goes with every other filter and the owner's scope;
bad q is a 400 naming it; deleted requests are not found; the ranked pages give
every match once."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from analysis import search_document, services
from analysis.api import search_plan
from analysis.models import AnalysisRequest, AnalysisResult, AnalysisStatus
from analysis.pipeline import run_analysis
from tests.analysis.conftest import chunks_of
from tests.api.conftest import MEDIA_URL, error_of, make_caller, make_completed, make_request
from tests.processing.test_ocr import text_image
from tests.transcription.conftest import (
    transcription_server,  # noqa: F401 (fixture)
    transcription_settings,  # noqa: F401 (fixture)
)
from tests.transcription.server import Burst, make_bursts

pytestmark = pytest.mark.django_db(transaction=True)

HISTORY = "/api/media/history"
ANSWER = "Nothing worth reporting."


def ids_of(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def searched(caller, **params) -> list[str]:
    return ids_of(caller.client.get(HISTORY, params))


def indexed(request: AnalysisRequest) -> AnalysisRequest:
    """A row made directly (tests' make_request) gets its document as the pipeline's
    record step would give it."""
    search_document.refresh(request.id)
    return request


@pytest.fixture
def chat_server(httpserver, settings):
    """An OpenAI-compatible model answering a text with none of the media's words."""
    settings.OPENAI_BASE_URL = httpserver.url_for("/v1")
    settings.OPENAI_API_KEY = "sk-chat-test"
    settings.OPENAI_MODEL = "gpt-4o-mini"
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_json(
        {
            "model": "gpt-4o-mini",
            "choices": [{"message": {"role": "assistant", "content": ANSWER}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 5},
        }
    )
    return httpserver


# ------------------------------------------------------- words after a real run
def test_a_word_only_in_a_transcript_is_found(
    tmp_path,
    storage_root,
    transcription_settings,  # noqa: F811 (the fixture imported above)
    chat_server,
):
    alice = make_caller("alice")
    speech = make_bursts(tmp_path / "speech.wav", [Burst(0.5, 1.0, 440)], 2.0)
    request = services.submit_upload_request(
        chunks=chunks_of(speech), original_filename="speech.wav", prompt="What is said?",
        owner=alice.user, provider="openai",
    )  # fmt: skip
    assert searched(alice, q="hz") == []  # not yet transcribed

    assert run_analysis(request.id) == "completed"

    request.refresh_from_db()
    assert request.metadata["transcript"]["text"] == "tone 440 Hz"
    assert AnalysisResult.objects.get(request=request).result_text == ANSWER
    assert searched(alice, q="hz") == [str(request.id)]
    assert searched(alice, q='"tone 440"') == [str(request.id)]
    # Nowhere else: the prompt/file name search does not know the word.
    assert searched(alice, search="hz") == []


def test_a_word_only_in_text_read_from_a_picture_is_found(storage_root, tmp_path, chat_server):
    alice = make_caller("alice")
    image = text_image(tmp_path / "scan.png", "Lighthouse keeper schedule")
    request = services.submit_upload_request(
        chunks=chunks_of(image), original_filename="scan.png", prompt="What does it say?",
        owner=alice.user, provider="openai",
    )  # fmt: skip

    assert run_analysis(request.id) == "completed"

    request.refresh_from_db()
    (reading,) = request.metadata["facts"]["ocr"]["readings"]
    assert "lighthouse" in reading["text"].lower()
    assert searched(alice, q="lighthouse") == [str(request.id)]
    assert searched(alice, q="lighthouses") == [str(request.id)]  # stemmed: english
    assert searched(alice, search="lighthouse") == []


def test_a_submitted_request_is_found_by_its_prompt_and_file_name_at_once(
    alice, storage_root, allow_local_media
):
    response = alice.client.post(
        "/api/media/analyze",
        {"media_url": MEDIA_URL, "prompt": "Count the pelicans"},
        format="json",
    )
    assert response.status_code == 202, response.content
    request = services.submit_upload_request(
        chunks=iter([b"GIF89a"]), original_filename="harbour_tour-final.gif",
        prompt="What happens?", owner=alice.user,
    )  # fmt: skip
    assert searched(alice, q="pelican") == [response.json()["id"]]
    assert searched(alice, q="harbour") == [str(request.id)]


# ------------------------------------------------------------------- the rank
def test_a_prompt_match_ranks_above_a_result_match_whatever_their_age(alice):
    in_prompt = indexed(make_completed(alice.user, prompt="Where is the glacier?"))
    in_result = indexed(make_completed(alice.user, prompt="Describe the scene"))
    AnalysisResult.objects.filter(request=in_result).update(result_text="A glacier, calving.")
    indexed(in_result)
    assert in_result.created_at > in_prompt.created_at  # newest first would swap them

    assert searched(alice, q="glacier") == [str(in_prompt.id), str(in_result.id)]
    # An ordering asked for wins: q is then a filter.
    assert searched(alice, q="glacier", ordering="-created_at") == [
        str(in_result.id),
        str(in_prompt.id),
    ]


def test_web_search_syntax_phrases_or_and_minus(alice):
    both = indexed(make_request(alice.user, prompt="red harbour crane at night"))
    harbour = indexed(make_request(alice.user, prompt="a harbour in the morning"))
    crane = indexed(make_request(alice.user, prompt="crane over the river"))

    assert set(searched(alice, q='"harbour crane"')) == {str(both.id)}
    assert set(searched(alice, q="harbour -crane")) == {str(harbour.id)}
    assert set(searched(alice, q="river or morning")) == {str(harbour.id), str(crane.id)}


# -------------------------------------------------------- filters and scope
def test_q_goes_with_every_other_filter(alice):
    now = timezone.now()
    video = indexed(make_completed(alice.user, prompt="the volcano erupts"))
    failed = indexed(
        make_request(alice.user, prompt="volcano at dusk", status=AnalysisStatus.FAILED,
                     media_type="image", provider="openai")
    )  # fmt: skip
    old = indexed(make_request(alice.user, prompt="volcano island"))
    AnalysisRequest.objects.filter(pk=old.pk).update(created_at=now - datetime.timedelta(days=40))
    indexed(make_completed(alice.user, prompt="a quiet beach"))  # no volcano

    assert set(searched(alice, q="volcano")) == {str(video.id), str(failed.id), str(old.id)}
    assert searched(alice, q="volcano", status="completed") == [str(video.id)]
    assert searched(alice, q="volcano", media_type="image") == [str(failed.id)]
    assert searched(alice, q="volcano", provider="openai") == [str(failed.id)]
    assert searched(alice, q="volcano", search="dusk") == [str(failed.id)]
    before = (now - datetime.timedelta(days=30)).isoformat()
    assert searched(alice, q="volcano", created_before=before) == [str(old.id)]
    body = alice.client.get(HISTORY, {"q": "volcano"}).json()
    assert body["count"] == 3 and body["count_exact"] is True


def test_another_owner_s_requests_never_appear(alice, bob, staff):
    mine = indexed(make_request(alice.user, prompt="the toboggan run"))
    theirs = indexed(make_request(bob.user, prompt="the toboggan run, again toboggan"))

    assert searched(alice, q="toboggan") == [str(mine.id)]
    assert searched(bob, q="toboggan") == [str(theirs.id)]
    assert set(searched(staff, q="toboggan")) == {str(mine.id), str(theirs.id)}


def test_a_deleted_request_is_not_found(alice):
    request = indexed(make_completed(alice.user, prompt="the funicular climbs"))
    assert searched(alice, q="funicular") == [str(request.id)]

    assert alice.client.delete(f"/api/media/{request.id}").status_code == 204

    assert searched(alice, q="funicular") == []


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("x" * 201, "200"),
        ("tone\x00hz", "NUL"),
        ("the and of", "No words"),
        ("?! -- ...", "No words"),
    ],
)
def test_a_bad_q_is_a_400_naming_it_and_changes_nothing(alice, q, message):
    request = indexed(make_request(alice.user, prompt="the zeppelin lands"))
    before = _vector_of(request)

    response = alice.client.get(HISTORY, {"q": q})

    assert response.status_code == 400
    error = error_of(response)
    assert error["field"] == "q" and message in error["message"], error
    assert _vector_of(request) == before


def _vector_of(request: AnalysisRequest) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT search_vector::text FROM media_analysis_requests WHERE id = %s", [request.id]
        )
        return cursor.fetchone()[0]


# ---------------------------------------------------------------- pagination
def test_ranked_pages_give_every_match_once_across_the_window(alice, monkeypatch):
    # A window of 10 of 25 matches: pages cross from the ranked part to the rest.
    monkeypatch.setattr(search_plan, "RANK_WINDOW", 10)
    rows = []
    for n in range(25):
        # One, two or three mentions: ranks differ, and many tie.
        rows.append(indexed(make_request(alice.user, prompt="hovercraft " * (1 + n % 3))))
    newest_first = sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)
    window, rest = newest_first[:10], newest_first[10:]

    seen, url = [], f"{HISTORY}?q=hovercraft&page_size=4"
    while url:
        body = alice.client.get(url).json()
        seen += [item["id"] for item in body["results"]]
        url = body["next"]

    assert len(seen) == len(set(seen)) == 25
    # The window: more mentions first, ties newest first; then the rest, newest first.
    ranked = sorted(
        window, key=lambda r: (r.prompt.count("hovercraft"), r.created_at, r.id), reverse=True
    )
    assert seen == [str(r.id) for r in ranked + rest]


# ----------------------------------------------------------- the document
def test_a_long_transcript_is_cut_not_refused(alice):
    words = " ".join(f"w{n}x" for n in range(300_000))  # 2.4 MB of different words
    request = make_completed(
        alice.user, prompt="a long talk",
        metadata={"transcript": {"text": f"opening {words} closingword"}},
    )  # fmt: skip
    indexed(request)

    assert searched(alice, q="opening") == [str(request.id)]
    assert searched(alice, q="closingword") == []  # past MAX_PART_CHARS


def test_the_command_fills_rows_written_without_a_document(alice):
    # As plain SQL would write them: no document.
    plain = [make_request(alice.user, prompt=f"the gondola drifts {n}") for n in range(3)]
    done = indexed(make_request(alice.user, prompt="a gondola, indexed"))
    AnalysisRequest.objects.filter(pk=done.pk).update(prompt="changed since")
    assert searched(alice, q="gondola") == [str(done.id)]

    call_command("index_history_search", batch_size=1, verbosity=0)  # a batch per row

    newest_first = [str(r.id) for r in reversed(plain)]
    assert set(searched(alice, q="gondola")) == {*newest_first, str(done.id)}  # kept
    call_command("index_history_search", "--all", verbosity=0)  # rebuilt from the row
    assert searched(alice, q="gondola") == newest_first

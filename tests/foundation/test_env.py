"""The typed settings helpers refuse junk values instead of guessing."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from media_analysis.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    parse_database_url,
    redis_url_for_celery,
)


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("0", False), ("YES", True), ("off", False)]
)
def test_env_bool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("X_FLAG", raw)
    assert env_bool("X_FLAG", not expected) is expected


@pytest.mark.parametrize("raw", ["maybe", "2", "tru"])
def test_env_bool_refuses_junk(monkeypatch, raw):
    monkeypatch.setenv("X_FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env_bool("X_FLAG", False)


def test_env_int_defaults_parses_and_checks_range(monkeypatch):
    monkeypatch.delenv("X_NUM", raising=False)
    assert env_int("X_NUM", 5) == 5
    monkeypatch.setenv("X_NUM", " 42 ")
    assert env_int("X_NUM", 5, minimum=1, maximum=100) == 42
    monkeypatch.setenv("X_NUM", "0")
    with pytest.raises(ImproperlyConfigured, match="below the minimum"):
        env_int("X_NUM", 5, minimum=1)
    monkeypatch.setenv("X_NUM", "5.5")
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("X_NUM", 5)


@pytest.mark.parametrize("raw", ["nan", "inf", "abc"])
def test_env_float_refuses_non_finite(monkeypatch, raw):
    monkeypatch.setenv("X_FLOAT", raw)
    with pytest.raises(ImproperlyConfigured):
        env_float("X_FLOAT", 1.0)


def test_env_list_and_choice(monkeypatch):
    monkeypatch.setenv("X_LIST", "a, b,,c ")
    assert env_list("X_LIST", []) == ["a", "b", "c"]
    monkeypatch.setenv("X_CHOICE", "LOUD")
    with pytest.raises(ImproperlyConfigured, match="not one of"):
        env_choice("X_CHOICE", "info", {"info", "debug"})


def test_database_url_parsing_tcp_and_socket():
    tcp = parse_database_url("postgres://n8n:p%40ss@af-postgres-1:5432/af-memory?sslmode=require")
    assert tcp["NAME"] == "af-memory"
    assert tcp["USER"] == "n8n"
    assert tcp["PASSWORD"] == "p@ss"
    assert tcp["HOST"] == "af-postgres-1"
    assert tcp["PORT"] == "5432"
    assert tcp["EXTRA_OPTIONS"] == {"sslmode": "require"}
    socket = parse_database_url("postgresql://postgres:@/media?host=/tmp/pg")
    assert socket["HOST"] == "/tmp/pg"
    assert socket["NAME"] == "media"


@pytest.mark.parametrize(
    "url", ["mysql://u@h/db", "sqlite:///x.db", "postgres://host/", "postgres://h:99999999/db"]
)
def test_database_url_refuses_other_engines_and_junk(url):
    with pytest.raises(ImproperlyConfigured):
        parse_database_url(url)


def test_celery_gets_kombu_spelling_of_unix_sockets():
    assert redis_url_for_celery("unix:///tmp/r.sock?db=0") == "redis+socket:///tmp/r.sock?db=0"
    assert redis_url_for_celery("redis://h:6379/0") == "redis://h:6379/0"

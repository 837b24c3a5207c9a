"""Where an entry's actor, address and correlation id come from."""

from __future__ import annotations

import ipaddress
import sys
import uuid

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.test import RequestFactory

from media_analysis import context
from media_analysis.context import acting_as, client_ip, serving


@pytest.fixture
def proxies(settings):
    settings.TRUSTED_PROXIES = [
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("2001:db8::/32"),
    ]
    return settings.TRUSTED_PROXIES


def http(remote: str, forwarded: str | None = None, **headers):
    extra = {"REMOTE_ADDR": remote, **headers}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_trusted_proxies_the_forwarded_header_is_ignored(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(http("203.0.113.9", "1.2.3.4")) == "203.0.113.9"


def test_a_forged_header_from_an_untrusted_peer_is_ignored(proxies):
    assert client_ip(http("203.0.113.9", "1.2.3.4")) == "203.0.113.9"


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("198.51.100.7", "198.51.100.7"),
        # The client forged the left entry; our proxy appended the real peer.
        ("6.6.6.6, 198.51.100.7", "198.51.100.7"),
        # Two of our proxies in a row.
        ("198.51.100.7, 10.1.1.1", "198.51.100.7"),
        ("198.51.100.7:5123", "198.51.100.7"),
        ("[2001:db9::5]:443", "2001:db9::5"),
        # Only trusted hops: the left-most is the best we know.
        ("10.2.2.2, 10.1.1.1", "10.2.2.2"),
        # Garbage stops the walk at the last good hop.
        ("198.51.100.7, not-an-ip", "10.0.0.5"),
    ],
)
def test_behind_a_trusted_proxy_the_first_untrusted_hop_from_the_right_is_the_client(
    proxies, forwarded, expected
):
    assert client_ip(http("10.0.0.5", forwarded)) == expected


def test_an_ipv4_mapped_peer_is_recorded_as_ipv4(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(http("::ffff:192.0.2.4")) == "192.0.2.4"


@pytest.mark.django_db
def test_the_user_is_read_when_the_entry_is_written_not_when_the_request_arrives():
    request = http("192.0.2.1")
    request.user = AnonymousUser()
    with serving(request):
        assert context.current_actor() is None
        # What DRF does once it has authenticated a token inside the view:
        request.user = User.objects.create_user("carol")
        assert context.current_actor() == "carol"
        assert context.current_client_ip() == "192.0.2.1"


def test_correlation_id_from_the_request_attribute_else_a_valid_header():
    cid = uuid.uuid4()
    request = http("192.0.2.1", HTTP_X_CORRELATION_ID=str(cid))
    with serving(request):
        assert context.current_correlation_id() == cid
        other = uuid.uuid4()
        request.correlation_id = str(other)
        assert context.current_correlation_id() == other
    junk = http("192.0.2.1", HTTP_X_CORRELATION_ID="'; drop table")
    with serving(junk):
        assert context.current_correlation_id() is None
    assert context.current_correlation_id() is None


def test_acting_as_nests_and_keeps_what_it_does_not_override():
    cid = uuid.uuid4()
    with acting_as("system:outer", correlation_id=cid):
        with acting_as(None):
            assert context.current_actor() == "system:outer"
        with acting_as("system:inner"):
            assert context.current_actor() == "system:inner"
            assert context.current_correlation_id() == cid
        assert context.current_actor() == "system:outer"
    assert context.current_actor() is None


def test_an_explicit_actor_wins_over_the_request_user():
    request = http("192.0.2.1")
    request.user = User(username="dave")
    with serving(request), acting_as("system:eager-task"):
        assert context.current_actor() == "system:eager-task"


def test_actor_names_are_clipped_to_the_column():
    with acting_as("system:" + "x" * 200):
        assert len(context.current_actor()) == 100


def test_a_manage_py_process_is_a_named_system_actor(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/srv/app/manage.py", "cleanup_storage", "--dry-run"])
    assert context.current_actor() == "system:command:cleanup_storage"
    monkeypatch.setattr(sys, "argv", ["gunicorn", "media_analysis.wsgi"])
    assert context.current_actor() is None

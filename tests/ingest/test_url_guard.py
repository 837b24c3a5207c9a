"""The address rule: syntax checks, and which resolved addresses are refused.

Hosts are resolved by the real getaddrinfo (numeric forms and /etc/hosts only: no DNS
query leaves the machine) unless a test passes a resolver hook.
"""

from __future__ import annotations

import ipaddress

import pytest

from analysis.ingest import (
    AddressPolicy,
    IngestError,
    IngestErrorCode,
    UnsafeURLError,
    is_public_address,
    redact_url,
    resolve_public_addresses,
    validate_url,
)
from analysis.ingest.errors import HTTP_STATUS_BY_CODE
from tests.ingest.servers import resolver_from

# Every spelling the issue names, plus a few neighbours, as they appear in a URL.
PRIVATE_HOSTS = [
    "localhost",
    "127.0.0.1",
    "[::1]",
    "10.0.0.1",
    "10.255.255.254",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "0.0.0.0",  # noqa: S104 (a target to refuse, not a bind)
    "0",
    "224.0.0.1",
    "239.255.255.250",
    "255.255.255.255",
    "100.64.0.1",  # carrier-grade NAT
    "[::ffff:127.0.0.1]",
    "[::ffff:169.254.169.254]",
    "[::ffff:10.0.0.1]",
    "2130706433",  # decimal 127.0.0.1
    "0177.0.0.1",  # octal 127.0.0.1
    "0x7f.1",  # hex
    "127.1",  # short form
    "[fc00::1]",
    "[fd12:3456::1]",
    "[fe80::1]",
    "[fec0::1]",  # deprecated site-local
    "[ff02::1]",
    "[::]",
    "[::127.0.0.1]",  # IPv4-compatible (deprecated)
    "[2002:7f00:1::1]",  # 6to4 around 127.0.0.1
    "[2002:a9fe:a9fe::1]",  # 6to4 around 169.254.169.254
    "[64:ff9b::a00:1]",  # NAT64 around 10.0.0.1
    "[64:ff9b:1::808:808]",  # local-use NAT64 prefix
    "[2001:db8::1]",  # documentation
]


def host_of(url_host: str) -> str:
    return validate_url(f"http://{url_host}/").host


class TestValidateUrl:
    @pytest.mark.parametrize(
        "url",
        [
            "file:///etc/passwd",
            "ftp://example.com/media.mp4",
            "gopher://example.com:70/_GET",
            "data:text/plain;base64,aGk=",
            "javascript:alert(1)",
            "ws://example.com/socket",
            "dict://example.com:11211/stats",
        ],
    )
    def test_refuses_schemes_other_than_http_and_https(self, url: str) -> None:
        with pytest.raises(UnsafeURLError) as caught:
            validate_url(url)
        assert caught.value.code == IngestErrorCode.URL_SCHEME_NOT_ALLOWED
        assert caught.value.http_status == 400

    @pytest.mark.parametrize(
        "url",
        [
            "http://user:secret@example.com/a.png",
            "https://user@example.com/a.png",
            "http://:secret@example.com/",
            "http://example.com\\@127.0.0.1/",  # parser-confusion spelling
        ],
    )
    def test_refuses_credentials(self, url: str) -> None:
        with pytest.raises(UnsafeURLError) as caught:
            validate_url(url)
        assert caught.value.code == IngestErrorCode.URL_CREDENTIALS_NOT_ALLOWED
        assert "secret" not in caught.value.message

    @pytest.mark.parametrize(
        "url",
        [
            "",
            "   ",
            "example.com/a.png",
            "//example.com/a.png",
            "http://",
            "http:///path-only",
            "http://exa mple.com/",
            "http://example.com/a\x00b",
            "http://example.com/\r\nHost: evil",
            "http://example.com:99999/",
            "http://example.com:0/",
            "http://example.com:port/",
            "http://[::1/",
            "http://[fe80::1%25eth0]/",
            "http://-leading-dash.com/",
            "http://under..dots.com/",
            "http://" + "a" * 64 + ".com/",
            "http://example.com/" + "a" * 9000,
        ],
    )
    def test_refuses_malformed_urls(self, url: str) -> None:
        with pytest.raises(UnsafeURLError) as caught:
            validate_url(url)
        assert caught.value.code == IngestErrorCode.URL_INVALID

    def test_refuses_non_strings(self) -> None:
        with pytest.raises(UnsafeURLError):
            validate_url(b"http://example.com/")  # type: ignore[arg-type]

    def test_normalises_scheme_host_port_path_and_drops_the_fragment(self) -> None:
        target = validate_url("  HTTPS://Media.Example.COM:443/clips/a b.mp4?sig=x y&z=1#part  ")
        assert (target.scheme, target.host, target.port) == ("https", "media.example.com", 443)
        assert target.request_target == "/clips/a%20b.mp4?sig=x%20y&z=1"
        assert target.url == "https://media.example.com/clips/a%20b.mp4?sig=x%20y&z=1"
        assert target.host_header == "media.example.com"

    def test_safe_url_has_no_query(self) -> None:
        target = validate_url("http://example.com:8080/a/b.png?token=s3cr3t")
        assert target.safe_url == "http://example.com:8080/a/b.png"
        assert target.host_header == "example.com:8080"

    def test_idna_host_and_non_ascii_path_become_ascii(self) -> None:
        target = validate_url("http://bücher.example/ä.png")
        assert target.host == "xn--bcher-kva.example"
        assert target.request_target == "/%C3%A4.png"

    def test_existing_escapes_are_kept(self) -> None:
        assert validate_url("http://e.com/a%2Fb?x=%41").request_target == "/a%2Fb?x=%41"

    def test_ipv6_literal_is_unbracketed_in_host_and_bracketed_in_urls(self) -> None:
        target = validate_url("http://[2001:DB8::1]:8080/")
        assert target.host == "2001:db8::1"
        assert target.host_header == "[2001:db8::1]:8080"
        assert target.url == "http://[2001:db8::1]:8080/"

    def test_empty_path_becomes_slash(self) -> None:
        assert validate_url("http://example.com").request_target == "/"
        assert validate_url("http://example.com?x=1").request_target == "/?x=1"


class TestRedactUrl:
    def test_drops_credentials_query_and_fragment(self) -> None:
        assert (
            redact_url("https://user:pw@Example.com:8443/v/a.mp4?X-Amz-Signature=abc#t=3")
            == "https://example.com:8443/v/a.mp4"
        )

    def test_survives_garbage(self) -> None:
        assert redact_url("http://[::1/x?token=1") == "<unparseable url>"
        assert "token" not in redact_url("no scheme at all?token=1")


class TestIsPublicAddress:
    @pytest.mark.parametrize(
        "address",
        [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",  # mapped public v4
            "2002:808:808::1",  # 6to4 around 8.8.8.8
            "64:ff9b::808:808",  # NAT64 around 8.8.8.8
        ],
    )
    def test_public(self, address: str) -> None:
        assert is_public_address(ipaddress.ip_address(address))

    @pytest.mark.parametrize(
        "address",
        [
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "172.16.0.1",
            "192.168.0.1",
            "169.254.169.254",
            "0.0.0.0",  # noqa: S104
            "224.0.0.1",
            "240.0.0.1",
            "100.64.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "fc00::1",
            "fe80::1",
            "fe80::1%2",
            "fec0::1",
            "ff02::1",
            "2002:a00:1::",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "2001::1",  # Teredo
            "2001:db8::1",
        ],
    )
    def test_not_public(self, address: str) -> None:
        assert not is_public_address(ipaddress.ip_address(address))


class TestResolvePublicAddresses:
    @pytest.mark.parametrize("url_host", PRIVATE_HOSTS)
    def test_refuses_every_private_spelling_through_getaddrinfo(self, url_host: str) -> None:
        with pytest.raises(UnsafeURLError) as caught:
            resolve_public_addresses(host_of(url_host), 80)
        assert caught.value.code == IngestErrorCode.URL_PRIVATE_ADDRESS
        assert caught.value.http_status == 422

    def test_odd_spellings_are_judged_by_their_canonical_address(self) -> None:
        allow = AddressPolicy(allow_private=True)
        for spelling in ("2130706433", "0177.0.0.1", "127.1", "0x7f.1"):
            assert resolve_public_addresses(spelling, 80, policy=allow) == [
                ipaddress.ip_address("127.0.0.1")
            ]

    def test_message_names_the_host_but_not_the_address(self) -> None:
        policy = AddressPolicy(resolver=resolver_from({"intranet.example": ["10.9.8.7"]}))
        with pytest.raises(UnsafeURLError) as caught:
            resolve_public_addresses("intranet.example", 80, policy=policy)
        assert "intranet.example" in caught.value.message
        assert "10.9.8.7" not in caught.value.message

    def test_refuses_a_name_with_any_private_answer(self) -> None:
        policy = AddressPolicy(
            resolver=resolver_from({"mixed.example": ["93.184.216.34", "10.0.0.1"]})
        )
        with pytest.raises(UnsafeURLError) as caught:
            resolve_public_addresses("mixed.example", 80, policy=policy)
        assert caught.value.code == IngestErrorCode.URL_PRIVATE_ADDRESS

    def test_returns_every_public_answer_in_order(self) -> None:
        policy = AddressPolicy(
            resolver=resolver_from({"cdn.example": ["93.184.216.34", "2606:4700::1"]})
        )
        assert [str(a) for a in resolve_public_addresses("cdn.example", 443, policy=policy)] == [
            "93.184.216.34",
            "2606:4700::1",
        ]

    def test_unresolvable_host(self) -> None:
        policy = AddressPolicy(resolver=resolver_from({}))
        with pytest.raises(UnsafeURLError) as caught:
            resolve_public_addresses("nowhere.example", 80, policy=policy)
        assert caught.value.code == IngestErrorCode.URL_UNRESOLVABLE

    def test_allow_private_lifts_the_rule(self) -> None:
        policy = AddressPolicy(allow_private=True)
        assert resolve_public_addresses("127.0.0.1", 80, policy=policy) == [
            ipaddress.ip_address("127.0.0.1")
        ]

    def test_trusted_networks_admit_only_themselves(self) -> None:
        policy = AddressPolicy(trusted_networks=(ipaddress.ip_network("127.0.0.1/32"),))
        assert resolve_public_addresses("127.0.0.1", 80, policy=policy)
        for other in ("127.0.0.2", "10.0.0.1", "169.254.169.254", "::1"):
            with pytest.raises(UnsafeURLError):
                resolve_public_addresses(other, 80, policy=policy)

    def test_default_policy_follows_settings(self, settings) -> None:
        with pytest.raises(UnsafeURLError):
            resolve_public_addresses("127.0.0.1", 80)
        settings.MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS = True
        assert AddressPolicy.from_settings().allow_private is True
        assert resolve_public_addresses("127.0.0.1", 80)


def test_every_code_has_an_http_status() -> None:
    assert set(HTTP_STATUS_BY_CODE) == set(IngestErrorCode)
    assert {status for status in HTTP_STATUS_BY_CODE.values()} <= {400, 413, 422, 502, 504}
    error = IngestError(IngestErrorCode.DOWNLOAD_TOO_LARGE, "big")
    assert (error.code, error.http_status, str(error)) == ("download_too_large", 413, "big")

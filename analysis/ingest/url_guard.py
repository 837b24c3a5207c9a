"""The address rule for fetching media by URL (the SSRF guard). The only place it lives.

Two steps, both before any byte is sent:

1. ``validate_url`` checks syntax: http/https only, a host, a valid port, no
   credentials. URLs with ``user:pass@`` are *refused*, not stripped: stripping would
   silently fetch something other than what the person asked for, and credentials in
   a URL end up in logs and in our database.
2. ``resolve_public_addresses`` resolves the host once and refuses it if *any* address
   it resolves to is loopback, private, link-local (cloud metadata 169.254.169.254
   included), multicast, unspecified or reserved, looking inside IPv4-mapped, 6to4
   and NAT64 IPv6 forms. Odd spellings (``2130706433``, ``0177.0.0.1``, ``127.1``) need
   no parsing of our own: getaddrinfo turns them into the canonical address, which is
   what gets judged. The caller connects to exactly these addresses, so a second DNS
   answer (rebinding) is never consulted.

``AddressPolicy`` carries the rule's knobs: ``allow_private`` (from
MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS, for internal deployments), and two hooks that
only code can set, never the environment: a resolver and ``trusted_networks`` (tests
use them to let a loopback test server count as "public" while every other private
address stays refused).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from analysis.ingest.errors import IngestErrorCode, UnsafeURLError

logger = logging.getLogger("analysis.ingest")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[IPAddress]]

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_LENGTH = 8192

# Characters kept as they are when re-quoting a path or query: RFC 3986 reserved and
# unreserved characters plus "%" so existing escapes survive; everything else (spaces,
# non-ASCII) is percent-encoded so the request line is plain ASCII.
_PATH_SAFE = "/%!$&'()*+,;=:@-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
_HOSTNAME = re.compile(
    r"^(?=.{1,253}\.?$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")


@dataclass(frozen=True)
class ParsedTarget:
    """A URL that passed the syntax checks, split into what a connection needs."""

    scheme: str
    host: str  # lowercase ASCII (IDNA) name, or an IP literal without brackets
    port: int
    request_target: str  # path and query as sent on the request line; never empty

    @property
    def _authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def host_header(self) -> str:
        return self._authority

    @property
    def url(self) -> str:
        """The normalised URL, query included (it may hold tokens: do not log it)."""
        return f"{self.scheme}://{self._authority}{self.request_target}"

    @property
    def safe_url(self) -> str:
        """scheme://host[:port]/path, the only form of a URL that goes into logs."""
        return f"{self.scheme}://{self._authority}{self.request_target.split('?', 1)[0]}"


def validate_url(url: str) -> ParsedTarget:
    """Check a URL's syntax, scheme and authority; no network access."""
    if not isinstance(url, str):
        raise _invalid("The URL must be a string.")
    url = url.strip()
    if not url:
        raise _invalid("The URL is empty.")
    if len(url) > MAX_URL_LENGTH:
        raise _invalid(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    # Checked before urlsplit, which silently deletes tabs and newlines.
    if _CONTROL.search(url):
        raise _invalid("The URL contains control characters.")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise _invalid("The URL could not be parsed.") from None

    scheme = parts.scheme.lower()
    if not scheme:
        raise _invalid("The URL must start with http:// or https://.")
    if scheme not in DEFAULT_PORTS:
        raise UnsafeURLError(
            IngestErrorCode.URL_SCHEME_NOT_ALLOWED,
            f"Only http and https URLs can be fetched, not {scheme}: URLs.",
        )
    if not parts.netloc:
        raise _invalid("The URL has no host.")
    if " " in parts.netloc:
        raise _invalid("The URL's host contains a space.")
    if "@" in parts.netloc:
        raise UnsafeURLError(
            IngestErrorCode.URL_CREDENTIALS_NOT_ALLOWED,
            "URLs with a user name or password (user:pass@host) are not accepted; "
            "use a URL that needs no credentials, such as a pre-signed link.",
        )
    try:
        port = parts.port
    except ValueError:
        raise _invalid("The URL's port is not a number between 1 and 65535.") from None
    if port == 0:
        raise _invalid("The URL's port is not a number between 1 and 65535.")

    host = _normalise_host(parts.hostname or "", bracketed=parts.netloc.startswith("["))
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    if not path.startswith("/"):
        path = "/" + path
    query = quote(parts.query, safe=_QUERY_SAFE)
    return ParsedTarget(
        scheme=scheme,
        host=host,
        port=port or DEFAULT_PORTS[scheme],
        request_target=f"{path}?{query}" if query else path,
    )


def redact_url(url: str) -> str:
    """scheme://host[:port]/path of any string, for logging input that may not even
    validate: credentials, query and fragment are dropped."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except (ValueError, AttributeError):
        return "<unparseable url>"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme.lower()}://{host}{port}{parts.path}"[:512]


def is_public_address(ip: IPAddress) -> bool:
    """True when ``ip`` is a globally routable unicast address.

    IPv6 forms that embed an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, 6to4
    ``2002::/16``, NAT64 ``64:ff9b::/96``) are judged by the IPv4 address inside.
    ``is_global`` alone is not enough: Python counts multicast as global.
    """
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return is_public_address(embedded)
    if isinstance(ip, ipaddress.IPv6Address) and (ip in _NAT64_LOCAL_USE or ip.is_site_local):
        return False
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address getaddrinfo gives for ``host``, in its order, without duplicates."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []
    addresses: list[IPAddress] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        ip = ipaddress.ip_address(sockaddr[0])
        if ip not in addresses:
            addresses.append(ip)
    return addresses


@dataclass(frozen=True)
class AddressPolicy:
    """Which resolved addresses may be connected to, and how names are resolved."""

    allow_private: bool = False
    # Set only from code (tests): networks treated as public although they are not.
    trusted_networks: tuple[IPNetwork, ...] = ()
    resolver: Resolver = system_resolver

    @classmethod
    def from_settings(cls) -> AddressPolicy:
        from django.conf import settings

        return cls(allow_private=settings.MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS)

    def permits(self, ip: IPAddress) -> bool:
        if self.allow_private or is_public_address(ip):
            return True
        return any(ip.version == net.version and ip in net for net in self.trusted_networks)


def resolve_public_addresses(
    host: str, port: int, *, policy: AddressPolicy | None = None
) -> list[IPAddress]:
    """Resolve ``host`` once; return its addresses if every one is allowed.

    Refusing when any address is private (rather than picking the public ones) means
    a name that mixes public and internal answers is never half-trusted.
    """
    policy = policy or AddressPolicy.from_settings()
    addresses = list(policy.resolver(host, port))
    if not addresses:
        raise UnsafeURLError(
            IngestErrorCode.URL_UNRESOLVABLE, f"The host {host!r} could not be resolved."
        )
    refused = [ip for ip in addresses if not policy.permits(ip)]
    if refused:
        logger.warning(
            "refused private address",
            extra={"host": host, "addresses": [str(ip) for ip in refused]},
        )
        raise UnsafeURLError(
            IngestErrorCode.URL_PRIVATE_ADDRESS,
            f"The host {host!r} points to a private, local or reserved network address, "
            "which this service does not fetch from.",
        )
    return addresses


def _normalise_host(hostname: str, *, bracketed: bool) -> str:
    if not hostname:
        raise _invalid("The URL has no host.")
    if bracketed:
        # urlsplit already refused brackets that hold no valid IPv6 address; a zone
        # id (fe80::1%eth0) names a local interface, which a remote URL never needs.
        if "%" in hostname:
            raise _invalid("IPv6 zone identifiers are not accepted in URLs.")
        return str(ipaddress.IPv6Address(hostname))
    try:
        ascii_host = hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise _invalid("The URL's host name is not valid.") from None
    if not _HOSTNAME.match(ascii_host):
        raise _invalid("The URL's host name is not valid.")
    return ascii_host


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _invalid(message: str) -> UnsafeURLError:
    return UnsafeURLError(IngestErrorCode.URL_INVALID, message)

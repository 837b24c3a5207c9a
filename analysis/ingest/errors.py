"""The one exception family of the ingest stage.

Every refusal or failure carries a stable machine ``code`` (the API puts it in its
JSON error body), a ``message`` written for a person (it names the problem, never
internals such as resolved addresses or query strings), and the HTTP status the API
should answer with. The status follows from the code, so callers raise by code only.
"""

from __future__ import annotations

from enum import StrEnum

from media_analysis.errors import ServiceError


class IngestErrorCode(StrEnum):
    URL_INVALID = "url_invalid"
    URL_SCHEME_NOT_ALLOWED = "url_scheme_not_allowed"
    URL_CREDENTIALS_NOT_ALLOWED = "url_credentials_not_allowed"
    URL_PRIVATE_ADDRESS = "url_private_address"
    URL_UNRESOLVABLE = "url_unresolvable"
    DOWNLOAD_TOO_LARGE = "download_too_large"
    DOWNLOAD_TIMEOUT = "download_timeout"
    DOWNLOAD_FAILED = "download_failed"
    DOWNLOAD_HTTP_ERROR = "download_http_error"
    TOO_MANY_REDIRECTS = "too_many_redirects"


# 400: the URL itself is unusable; 422: well-formed but names a target we refuse or
# cannot find; 413: the media is over the size limit; 502: the remote server misbehaved
# or failed; 504: the remote server was too slow.
HTTP_STATUS_BY_CODE: dict[IngestErrorCode, int] = {
    IngestErrorCode.URL_INVALID: 400,
    IngestErrorCode.URL_SCHEME_NOT_ALLOWED: 400,
    IngestErrorCode.URL_CREDENTIALS_NOT_ALLOWED: 400,
    IngestErrorCode.URL_PRIVATE_ADDRESS: 422,
    IngestErrorCode.URL_UNRESOLVABLE: 422,
    IngestErrorCode.DOWNLOAD_TOO_LARGE: 413,
    IngestErrorCode.DOWNLOAD_TIMEOUT: 504,
    IngestErrorCode.DOWNLOAD_FAILED: 502,
    IngestErrorCode.DOWNLOAD_HTTP_ERROR: 502,
    IngestErrorCode.TOO_MANY_REDIRECTS: 502,
}


class IngestError(ServiceError):
    """Base of every ingest refusal or failure."""

    def __init__(self, code: IngestErrorCode, message: str, http_status: int | None = None):
        code = IngestErrorCode(code)
        super().__init__(
            code, message, http_status=http_status or HTTP_STATUS_BY_CODE[code], field="media_url"
        )
        self.code = code  # a StrEnum: compares and serialises as its value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code.value!r}, {self.message!r})"


class UnsafeURLError(IngestError):
    """The URL is refused before any connection: bad syntax, scheme, credentials,
    or a host that resolves to an address the address rule forbids."""


class DownloadError(IngestError):
    """The transfer was attempted and failed or was cut off."""

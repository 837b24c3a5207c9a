"""Fetching media by URL safely: the address rule (``url_guard``) and the streaming
transfer (``download``). No models, no views; the pipeline and the API call these."""

from analysis.ingest.download import (
    MAX_REDIRECTS,
    DownloadLimits,
    DownloadResult,
    RemoteMedia,
    download_to,
    open_download,
)
from analysis.ingest.errors import (
    DownloadError,
    IngestError,
    IngestErrorCode,
    UnsafeURLError,
)
from analysis.ingest.url_guard import (
    AddressPolicy,
    ParsedTarget,
    is_public_address,
    redact_url,
    resolve_public_addresses,
    validate_url,
)

__all__ = [
    "MAX_REDIRECTS",
    "AddressPolicy",
    "DownloadError",
    "DownloadLimits",
    "DownloadResult",
    "IngestError",
    "IngestErrorCode",
    "ParsedTarget",
    "RemoteMedia",
    "UnsafeURLError",
    "download_to",
    "is_public_address",
    "open_download",
    "redact_url",
    "resolve_public_addresses",
    "validate_url",
]

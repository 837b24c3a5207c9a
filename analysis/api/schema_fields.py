"""The schema's spelling of the rules the API enforces, so that a schema-valid
request is never refused for its shape (issue 16). Each pattern is the rule's own
check written as a regular expression (ECMAScript and Python alike); the rules stay
where they are, and tests/api/test_schema.py holds the patterns to their rules."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerFieldExtension

from analysis.options import PROVIDER_NAMES

# What the URL guard (analysis.ingest.url_guard.validate_url) accepts as syntax, so a
# schema-valid URL is never refused for its form: http(s), a host name (labels of
# letters, digits, "_" and "-", not starting or ending with "-") or an IPv4 or
# bracketed IPv6 address, a port from 1 to 65535, no user:pass@, no control
# characters. Whether the address may be fetched (public, resolvable) is known only
# when the host is resolved: a 400 naming url_private_address or url_unresolvable.
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_H16 = r"[0-9A-Fa-f]{1,4}"
_IPV6 = (
    r"(?:(?:H:){7}H|(?:H:){1,7}:|(?:H:){1,6}:H|(?:H:){1,5}(?::H){1,2}|(?:H:){1,4}(?::H){1,3}"
    r"|(?:H:){1,3}(?::H){1,4}|(?:H:){1,2}(?::H){1,5}|H:(?::H){1,6}|:(?:(?::H){1,7}|:))"
).replace("H", _H16)
_PORT = r"(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
URL_PATTERN = (
    rf"^[Hh][Tt][Tt][Pp][Ss]?://(?:{_LABEL}(?:\.{_LABEL})*\.?|\[{_IPV6}\])(?::{_PORT})?"
    r"(?:[/?#][^\u0000-\u001f\u007f]*)?$"
)


# parse_resolution's rule as a pattern: 320 to 7680 wide, 240 to 4320 high.
RESOLUTION_PATTERN = (
    r"^(?:3[2-9][0-9]|[4-9][0-9]{2}|[1-6][0-9]{3}|7[0-5][0-9]{2}|76[0-7][0-9]|7680)"
    r"x(?:2[4-9][0-9]|[3-9][0-9]{2}|[1-3][0-9]{3}|4[0-2][0-9]{2}|43[01][0-9]|4320)$"
)

# SafeCharField refuses NUL; every text field says so. "+": a blank value, where a
# field allows one, is the separate branch drf-spectacular adds for it.
NO_NUL = r"^[^\u0000]+$"
# validate_prompt: not blank once str.strip() has removed what str.isspace() calls
# whitespace, no NUL, at most MEDIA_ANALYSIS_MAX_PROMPT_CHARS characters.
_SPACE = (
    r"\t\n\u000b\f\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a"
    r"\u2028\u2029\u202f\u205f\u3000"
)
PROMPT_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": settings.MEDIA_ANALYSIS_MAX_PROMPT_CHARS,
    "pattern": rf"^[^\u0000]*[^\u0000{_SPACE}][^\u0000]*$",
}
# validate_provider: one of the providers (blank, or null where allowed, for the
# default one); whether it is configured on this
# service is known only there.
PROVIDER_SCHEMA = {"type": "string", "enum": [*PROVIDER_NAMES, ""]}

# An upload's file: FileField(allow_empty_file=False).
UPLOAD_SCHEMA = {"type": "string", "format": "binary", "minLength": 1}


class SafeCharFieldExtension(OpenApiSerializerFieldExtension):
    """A SafeCharField's schema as DRF's CharField gives it, plus "no NUL"."""

    target_class = "analysis.api.serializers.SafeCharField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        schema.setdefault("pattern", NO_NUL)
        return schema

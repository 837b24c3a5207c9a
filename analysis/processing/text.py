"""Text helpers shared by detection and document extraction: decoding bytes of an
unknown charset, telling text from binary, statistics and an excerpt.

Statistics are language-agnostic: a "word" is a run of letters/digits, except in
scripts written without spaces (CJK, kana, Thai...), where each character counts
as one word, so a Chinese page is not counted as a handful of "words".
"""

from __future__ import annotations

import codecs
import contextlib
import re
import unicodedata
from dataclasses import dataclass

import charset_normalizer

from analysis.processing.facts import TextStats

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_MIN_DETECTION_BYTES = 128
_DETECTION_SAMPLE_BYTES = 200_000

# Control characters that plain text legitimately contains.
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v\b\x1b")

# Scripts written without spaces between words: each character counts as a word.
# (Korean is written with spaces, so Hangul counts like Latin.)
_UNSPACED_CHARS = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uf900-\ufaff"  # CJK compatibility ideographs
)
_UNSPACED_RE = re.compile(f"[{_UNSPACED_CHARS}]")
_WORD_RE = re.compile(f"(?:(?![{_UNSPACED_CHARS}])\\w)+")


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str


def bom_encoding(data: bytes) -> str | None:
    """The encoding a byte-order mark announces, if the data starts with one."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    return None


def _strip_partial_utf8_tail(data: bytes) -> bytes:
    """Drop an incomplete UTF-8 sequence at the end (a head cut mid-character)."""
    for back in range(1, 4):
        if len(data) < back:
            break
        byte = data[-back]
        if byte & 0xC0 == 0x80:  # continuation byte: keep looking for the lead
            continue
        if byte & 0x80:  # a lead byte: is its sequence complete?
            needed = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4
            return data[:-back] if needed > back else data
        return data
    return data


def decode_text(data: bytes, declared: str | None = None, *, partial: bool = False) -> DecodedText:
    """Decode ``data`` with a fallback chain: BOM, declared charset, UTF-8,
    charset detection, then Latin-1 (which never fails).

    ``partial`` says ``data`` is a head cut from a longer file, so an incomplete
    character at its end is not a reason to reject UTF-8.
    """
    bom = bom_encoding(data)
    if bom:
        return DecodedText(
            data[len(codecs.BOM_UTF8) if bom == "utf-8" else 0 :]
            .decode(bom, "replace")
            .lstrip("\ufeff"),
            bom,
        )
    candidates = []
    if declared:
        with contextlib.suppress(LookupError):
            candidates.append(codecs.lookup(declared).name)
    candidates.append("utf-8")
    for encoding in candidates:
        body = _strip_partial_utf8_tail(data) if partial and encoding == "utf-8" else data
        try:
            return DecodedText(body.decode(encoding), encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    # Charset detection needs material to go on; on a few bytes it guesses wildly,
    # so short data falls back to Windows-1252, the commonest legacy charset.
    if len(data) >= _MIN_DETECTION_BYTES:
        best = charset_normalizer.from_bytes(data[:_DETECTION_SAMPLE_BYTES]).best()
        if best is not None and best.encoding:
            return DecodedText(data.decode(best.encoding, "replace"), best.encoding)
    try:
        return DecodedText(data.decode("cp1252"), "cp1252")
    except UnicodeDecodeError:
        return DecodedText(data.decode("latin-1"), "latin-1")


def looks_like_text(head: bytes) -> bool:
    """Whether a file's head is text rather than binary: no NUL bytes (unless
    UTF-16/32 with a BOM) and hardly any control characters once decoded."""
    if not head:
        return False
    bom = bom_encoding(head)
    if bom is None and b"\x00" in head:
        return False
    text = decode_text(head, partial=True).text
    if not text:
        return False
    controls = sum(
        1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS
    )
    replacement = text.count("\ufffd")
    return (controls + replacement) / len(text) < 0.02


def count_words(text: str) -> int:
    """Words in any script: runs of word characters, plus one per character of
    scripts written without spaces."""
    return len(_WORD_RE.findall(text)) + len(_UNSPACED_RE.findall(text))


def text_statistics(text: str) -> TextStats:
    """Counts a person would recognise: characters, words, lines, paragraphs."""
    lines = text.splitlines()
    paragraphs = [block for block in re.split(r"\n\s*\n", text) if block.strip()]
    return TextStats(
        chars=len(text),
        non_whitespace_chars=sum(1 for ch in text if not ch.isspace()),
        words=count_words(text),
        lines=len(lines),
        non_empty_lines=sum(1 for line in lines if line.strip()),
        paragraphs=len(paragraphs),
    )


def excerpt(text: str, limit: int = 500) -> str:
    """The start of ``text``, whitespace collapsed, cut at a word boundary."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def cap_text(text: str, max_chars: int) -> tuple[str, bool]:
    """``text`` cut to ``max_chars`` (at a line or word boundary when one is near),
    and whether it was cut."""
    if len(text) <= max_chars:
        return text, False
    cut = text[:max_chars]
    for sep in ("\n", " "):
        at = cut.rfind(sep)
        if at > max_chars * 0.9:
            cut = cut[:at]
            break
    return cut, True

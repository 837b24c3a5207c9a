"""Documents: extract the text a language model should read, plus pictures of the
PDF pages that have no text layer (scans), so a vision model still sees them.

- PDF: pypdf for text and page count; text-less pages rendered with pypdfium2.
- DOCX: ``word/document.xml`` read from the zip with a size cap and parsed by
  defusedxml with DTDs forbidden (no entity expansion, no external entities).
- HTML: visible text only (no script, style, template...), block tags as lines.
- Markdown, plain text, XML: decoded with a charset fallback, kept as written.

Extracted text is cut at ``max_text_chars``; reading stops there too, so a
2 GB text file costs what its first few megabytes cost.
"""

from __future__ import annotations

import re
import time
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from analysis.processing.errors import (
    DOCUMENT_ENCRYPTED,
    DOCUMENT_TOO_LARGE,
    MEDIA_CORRUPT,
    MEDIA_TRUNCATED,
    UNSUPPORTED_MEDIA,
    MediaProcessingError,
)
from analysis.processing.facts import (
    DocumentFacts,
    DocxFacts,
    FormatFacts,
    HtmlFacts,
    PlainTextFacts,
)
from analysis.processing.options import ProcessingOptions
from analysis.processing.pdf import extract_pdf
from analysis.processing.text import cap_text, decode_text, excerpt, text_statistics

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PLAIN_MIME_TYPES = frozenset({"text/plain", "text/markdown", "application/xml"})
# Markup outweighs text: read this many bytes of HTML per character we may keep.
HTML_BYTES_PER_CHAR = 8
TEXT_BYTES_PER_CHAR = 4  # UTF-8 needs at most four bytes a character


@dataclass(frozen=True)
class DocumentResult:
    facts: DocumentFacts
    text: str
    page_images: list[Path]


def process_document(
    path: Path, mime_type: str, work_dir: Path, options: ProcessingOptions
) -> DocumentResult:
    """Extract text (and page pictures for PDF scans) from the document at ``path``."""
    started = time.perf_counter()
    page_images: list[Path] = []
    details: FormatFacts  # what only this format has (pages, paragraphs, title...)
    if mime_type == "application/pdf":
        pdf = extract_pdf(path, work_dir, options)
        text, details, truncated, page_images = (
            pdf.text,
            pdf.facts,
            pdf.text_truncated,
            pdf.page_images,
        )
    elif mime_type == DOCX_MIME:
        text, details, truncated = _docx_text(path, options)
    elif mime_type == "text/html":
        text, details, truncated = _html_text(path, options)
    elif mime_type in PLAIN_MIME_TYPES:
        text, details, truncated = _plain_text(path, options)
    elif mime_type == "application/x-encrypted-office":
        raise MediaProcessingError(
            DOCUMENT_ENCRYPTED,
            "The Office document is password-protected; remove the password and send it again.",
        )
    else:
        raise MediaProcessingError(
            UNSUPPORTED_MEDIA, f"Documents of type {mime_type} are not supported."
        )
    text, cut = cap_text(text, options.max_text_chars)
    facts = DocumentFacts(
        format=mime_type,
        size_bytes=path.stat().st_size,
        details=details,
        text_truncated=truncated or cut,
        max_text_chars=options.max_text_chars,
        stats=text_statistics(text),
        excerpt=excerpt(text),
        timings_ms={"extract_ms": round((time.perf_counter() - started) * 1000, 1)},
    )
    return DocumentResult(facts=facts, text=text, page_images=page_images)


# --- DOCX --------------------------------------------------------------------------

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _open_docx(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        with open(path, "rb") as handle:
            starts_like_zip = handle.read(4) == b"PK\x03\x04"
        if starts_like_zip:  # local headers but no central directory: cut short
            raise MediaProcessingError(
                MEDIA_TRUNCATED,
                "The DOCX file ends early, as if the upload was cut off; send the complete file again.",
            ) from exc
        raise MediaProcessingError(
            MEDIA_CORRUPT, "The DOCX file is not a valid zip archive."
        ) from exc
    except (OSError, ValueError) as exc:
        raise MediaProcessingError(MEDIA_CORRUPT, "The DOCX file cannot be read.") from exc


def _docx_text(path: Path, options: ProcessingOptions) -> tuple[str, DocxFacts, bool]:
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, iterparse

    with _open_docx(path) as archive:
        try:
            info = archive.getinfo("word/document.xml")
        except KeyError as exc:
            raise MediaProcessingError(
                MEDIA_CORRUPT, "The DOCX file has no document body (word/document.xml)."
            ) from exc
        if info.file_size > options.max_docx_xml_bytes:
            raise MediaProcessingError(
                DOCUMENT_TOO_LARGE,
                f"The DOCX body unpacks to {info.file_size:,} bytes, more than the "
                f"{options.max_docx_xml_bytes:,} this service reads.",
            )
        media_count = sum(1 for name in archive.namelist() if name.startswith("word/media/"))
        parts: list[str] = []
        size = 0
        paragraphs = tables = 0
        truncated = False
        try:
            with archive.open(info) as body:
                for event, element in iterparse(body, events=("end",), forbid_dtd=True):
                    del event
                    tag = element.tag
                    if tag == f"{_W}t" and element.text:
                        parts.append(element.text)
                        size += len(element.text)
                    elif tag == f"{_W}tab":
                        parts.append("\t")
                    elif tag in (f"{_W}br", f"{_W}cr"):
                        parts.append("\n")
                    elif tag == f"{_W}p":
                        parts.append("\n")
                        paragraphs += 1
                        element.clear()  # free the paragraph's tree as we go
                    elif tag == f"{_W}tbl":
                        tables += 1
                        element.clear()
                    if size > options.max_text_chars:
                        truncated = True
                        break
        except DefusedXmlException as exc:
            raise MediaProcessingError(
                MEDIA_CORRUPT,
                "The DOCX body declares a DTD or entities, which are refused for safety.",
            ) from exc
        except ParseError as exc:
            raise MediaProcessingError(
                MEDIA_CORRUPT, "The DOCX body is not well-formed XML."
            ) from exc
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise MediaProcessingError(
                MEDIA_TRUNCATED if "eof" in str(exc).lower() else MEDIA_CORRUPT,
                "The DOCX archive is damaged and its body cannot be unpacked.",
            ) from exc
    text = re.sub(r"\n{3,}", "\n\n", "".join(parts)).strip()
    return (
        text,
        DocxFacts(paragraphs=paragraphs, tables=tables, embedded_media=media_count),
        truncated,
    )


# --- HTML --------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_INVISIBLE = frozenset(
    {"script", "style", "noscript", "template", "svg", "math", "head", "iframe", "object"}
)
# Tags that start a paragraph, a line, or a table cell in what a browser shows.
_PARAGRAPH = frozenset(
    {
        "address", "article", "aside", "blockquote", "details", "dialog", "div", "dl", "fieldset",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "main",
        "nav", "ol", "p", "pre", "section", "table", "ul",
    }
)  # fmt: skip
_LINE = frozenset({"br", "dd", "dt", "figcaption", "li", "summary", "tr", "caption"})
_CELL = frozenset({"td", "th"})


def _separator(tag: str) -> str | None:
    if tag in _PARAGRAPH:
        return "\n\n"
    if tag in _LINE:
        return "\n"
    if tag in _CELL:
        return "\t"
    return None


class _VisibleText(HTMLParser):
    """Collects the text a browser would show, one block element per line."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.hidden_depth = 0
        self.hidden_stack: list[str] = []
        self.title: list[str] = []
        self.in_title = False
        self.lang: str | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "html" and self.lang is None:
            self.lang = dict(attrs).get("lang")
        if tag == "title":
            self.in_title = True
        if tag == "body" and "head" in self.hidden_stack:
            # An unclosed <head> ends where the body starts, as in a browser.
            del self.hidden_stack[self.hidden_stack.index("head") :]
        if tag in _INVISIBLE:
            self.hidden_stack.append(tag)
        elif separator := _separator(tag):
            self.chunks.append(separator)

    def handle_startendtag(self, tag: str, attrs) -> None:
        if separator := _separator(tag):
            self.chunks.append(separator)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag in _INVISIBLE and tag in self.hidden_stack:
            while self.hidden_stack and self.hidden_stack.pop() != tag:
                pass
        elif tag in _PARAGRAPH:
            self.chunks.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
            return
        if not self.hidden_stack:
            self.chunks.append(data)

    def text(self) -> str:
        lines = (
            "\t".join(" ".join(cell.split()) for cell in line.split("\t")).strip()
            for line in "".join(self.chunks).split("\n")
        )
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _read_head(path: Path, limit: int) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes, and whether the file is longer."""
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    return data[:limit], len(data) > limit


def _html_text(path: Path, options: ProcessingOptions) -> tuple[str, HtmlFacts, bool]:
    data, longer = _read_head(path, options.max_text_chars * HTML_BYTES_PER_CHAR)
    declared = _META_CHARSET.search(data[:8192])
    decoded = decode_text(
        data, declared.group(1).decode("ascii", "ignore") if declared else None, partial=longer
    )
    parser = _VisibleText()
    parser.feed(decoded.text)
    parser.close()
    title = " ".join("".join(parser.title).split()) or None
    facts = HtmlFacts(encoding=decoded.encoding, title=title, lang=parser.lang)
    return parser.text(), facts, longer


# --- plain text and Markdown -------------------------------------------------------


def _plain_text(path: Path, options: ProcessingOptions) -> tuple[str, PlainTextFacts, bool]:
    data, longer = _read_head(path, options.max_text_chars * TEXT_BYTES_PER_CHAR)
    decoded = decode_text(data, partial=longer)
    text = decoded.text.replace("\r\n", "\n").replace("\r", "\n")
    return text, PlainTextFacts(encoding=decoded.encoding), longer

"""PDF: text per page with pypdf, and pictures of the pages that have none.

A page whose text layer holds fewer than ``MIN_PAGE_TEXT_CHARS`` visible
characters is taken for a scan or a drawing and rendered with pypdfium2 (at most
``max_rendered_pages`` of them, longest side ``max_image_side``), so a vision
model can still read it. A PDF protected by an owner password only (it opens
without asking) is read normally; one that needs a password to open is refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from analysis.processing.errors import (
    DOCUMENT_ENCRYPTED,
    MEDIA_CORRUPT,
    MEDIA_TRUNCATED,
    MediaProcessingError,
)
from analysis.processing.facts import PdfFacts
from analysis.processing.options import ProcessingOptions

MIN_PAGE_TEXT_CHARS = 16
MAX_PAGES_EXAMINED = 2000
RENDER_MAX_DPI = 200
PDF_POINTS_PER_INCH = 72
# Readers look for %%EOF in the last kilobyte; allow some trailing junk.
EOF_MARKER_WINDOW = 4096
METADATA_KEYS = ("title", "author", "subject", "creator", "producer")

# pypdf reports every recoverable oddity through logging; they are expected here.
logging.getLogger("pypdf").setLevel(logging.ERROR)


@dataclass
class PdfExtraction:
    text: str
    facts: PdfFacts
    text_truncated: bool
    page_images: list[Path] = field(default_factory=list)


def page_image_name(page_number: int) -> str:
    return f"page_{page_number:03d}.jpg"


def extract_pdf(path: Path, work_dir: Path, options: ProcessingOptions) -> PdfExtraction:
    complete = _ends_with_eof_marker(path)
    if not complete and not options.allow_truncated:
        raise MediaProcessingError(
            MEDIA_TRUNCATED,
            "The PDF ends early (its end-of-file marker is missing), as if the upload was cut off; "
            "send the complete file again.",
        )
    reader, encrypted = _open_reader(path)
    try:
        page_count = len(reader.pages)
    except Exception as exc:  # pypdf raises many types on a broken page tree
        raise MediaProcessingError(MEDIA_CORRUPT, "The PDF's page list is damaged.") from exc

    texts: list[str] = []
    size = 0
    truncated = False
    textless: list[int] = []
    page_errors = 0
    examined = 0
    for index in range(min(page_count, MAX_PAGES_EXAMINED)):
        examined += 1
        try:
            page_text = reader.pages[index].extract_text() or ""
        except Exception:  # one bad page must not sink the document
            page_errors += 1
            page_text = ""
        if sum(1 for ch in page_text if not ch.isspace()) < MIN_PAGE_TEXT_CHARS:
            textless.append(index + 1)
        if page_text.strip():
            texts.append(page_text.strip())
            size += len(page_text)
        if size > options.max_text_chars:
            truncated = True
            break
    truncated = truncated or examined < page_count

    rendered, render_errors = _render_pages(
        path, textless[: options.max_rendered_pages], work_dir, options.max_image_side
    )
    if not texts and not rendered and page_count:
        raise MediaProcessingError(
            MEDIA_CORRUPT, "Nothing could be read from the PDF: no text and no page could be drawn."
        )
    facts = PdfFacts(
        page_count=page_count,
        pages_examined=examined,
        pages_with_text=examined - len(textless),
        pages_without_text=tuple(textless[:100]),
        rendered_pages=tuple(number for number, _ in rendered),
        page_errors=page_errors,
        render_errors=render_errors,
        encrypted=encrypted,
        complete=complete,
        pdf_version=_header_version(reader),
        metadata=_metadata(reader),
    )
    return PdfExtraction(
        text="\n\n".join(texts),
        facts=facts,
        text_truncated=truncated,
        page_images=[image for _, image in rendered],
    )


def _ends_with_eof_marker(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - EOF_MARKER_WINDOW))
        return b"%%EOF" in handle.read()


def _open_reader(path: Path):
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        reader = PdfReader(path, strict=False)
    except Exception as exc:  # pypdf's parse errors have no common base worth naming
        raise MediaProcessingError(
            MEDIA_CORRUPT, "The PDF is damaged and cannot be parsed."
        ) from exc
    encrypted = bool(reader.is_encrypted)
    if encrypted:
        try:
            opened = reader.decrypt("")
        except (
            DependencyError,
            NotImplementedError,
            FileNotDecryptedError,
            ValueError,
            KeyError,
        ) as exc:
            raise MediaProcessingError(
                DOCUMENT_ENCRYPTED, "The PDF is encrypted in a way this service cannot open."
            ) from exc
        if not opened:
            raise MediaProcessingError(
                DOCUMENT_ENCRYPTED,
                "The PDF is password-protected; remove the password and send it again.",
            )
    return reader, encrypted


def _render_pages(
    path: Path, page_numbers: list[int], work_dir: Path, max_side: int
) -> tuple[list[tuple[int, Path]], int]:
    """Render the given 1-based pages to JPEG; returns (number, path) pairs and
    how many could not be drawn."""
    if not page_numbers:
        return [], 0
    import pypdfium2

    rendered: list[tuple[int, Path]] = []
    errors = 0
    try:
        document = pypdfium2.PdfDocument(str(path))
    except pypdfium2.PdfiumError:
        return [], len(page_numbers)
    try:
        work_dir.mkdir(parents=True, exist_ok=True)
        for number in page_numbers:
            try:
                page = document[number - 1]
                try:
                    width, height = page.get_size()
                    scale = min(
                        max_side / max(width, height, 1), RENDER_MAX_DPI / PDF_POINTS_PER_INCH
                    )
                    image = page.render(scale=scale).to_pil().convert("RGB")
                finally:
                    page.close()
                out = work_dir / page_image_name(number)
                image.save(out, "JPEG", quality=85)
                rendered.append((number, out))
            except (pypdfium2.PdfiumError, OSError, ValueError, IndexError):
                errors += 1
    finally:
        document.close()
    return rendered, errors


def _header_version(reader) -> str | None:
    try:
        return str(reader.pdf_header).removeprefix("%PDF-") or None
    except Exception:
        return None


def _metadata(reader) -> dict[str, str]:
    """Title, author... as plain strings; a damaged info dictionary gives {}."""
    try:
        info = reader.metadata or {}
        values = {key: info.get(f"/{key.title()}") for key in METADATA_KEYS}
    except Exception:
        return {}
    return {key: " ".join(str(value).split())[:300] for key, value in values.items() if value}

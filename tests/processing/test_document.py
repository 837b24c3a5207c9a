"""Documents: text from PDF, DOCX, HTML, Markdown and plain text; pictures of
text-less PDF pages; caps, charsets, and the refusals."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from analysis.processing.document import DOCX_MIME, process_document
from analysis.processing.errors import MediaProcessingError
from analysis.processing.options import ProcessingOptions
from tests.processing import media_factory as make


def _process(path, mime, work_dir, **options):
    return process_document(path, mime, work_dir, ProcessingOptions(**options))


def test_pdf_text_and_page_count(text_pdf, tmp_path):
    result = _process(text_pdf, "application/pdf", tmp_path)
    assert "Hello from page one" in result.text and "Second page says goodbye" in result.text
    assert result.text.index("Hello") < result.text.index("Second")
    assert result.facts.details.page_count == 2
    assert result.facts.details.pages_with_text == 2 and result.page_images == []
    assert result.facts.stats.words == 8
    json.dumps(result.facts.as_dict())


def test_pdf_page_without_text_is_rendered(mixed_pdf, tmp_path):
    result = _process(mixed_pdf, "application/pdf", tmp_path, max_image_side=1000)
    assert "real text layer" in result.text
    assert result.facts.details.pages_without_text == (2,)
    assert result.page_images == [tmp_path / "page_002.jpg"]
    with Image.open(result.page_images[0]) as image:
        assert image.format == "JPEG" and max(image.size) == 1000
        # The page draws a blue rectangle; it must be in the picture.
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3).astype(int)
    assert ((pixels[:, 2] > 150) & (pixels[:, 0] < 100)).any()


def test_scanned_pdf_pages_become_pictures(scanned_pdf, tmp_path):
    result = _process(scanned_pdf, "application/pdf", tmp_path)
    assert result.text == ""
    assert result.facts.details.page_count == 2
    assert [path.name for path in result.page_images] == ["page_001.jpg", "page_002.jpg"]


def test_rendered_pages_are_capped(scanned_pdf, tmp_path):
    result = _process(scanned_pdf, "application/pdf", tmp_path, max_rendered_pages=1)
    assert len(result.page_images) == 1 and result.facts.details.pages_without_text == (1, 2)


def test_password_protected_pdf(tmp_path):
    locked = make.make_encrypted_pdf(tmp_path / "locked.pdf")
    with pytest.raises(MediaProcessingError) as caught:
        _process(locked, "application/pdf", tmp_path / "out")
    assert caught.value.code == "document_encrypted"


def test_pdf_with_only_an_owner_password_is_read(tmp_path):
    from pypdf import PdfReader, PdfWriter

    plain = make.make_text_pdf(tmp_path / "plain.pdf", ["Readable despite encryption"])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password="", owner_password="owner-only", algorithm="AES-128")
    path = tmp_path / "owner.pdf"
    with open(path, "wb") as handle:
        writer.write(handle)
    result = _process(path, "application/pdf", tmp_path / "out")
    assert "Readable despite encryption" in result.text and result.facts.details.encrypted is True


def test_truncated_and_corrupt_pdf(text_pdf, tmp_path):
    cut = make.truncate(text_pdf, tmp_path / "cut.pdf", 0.6)
    with pytest.raises(MediaProcessingError) as caught:
        _process(cut, "application/pdf", tmp_path / "out")
    assert caught.value.code == "media_truncated"
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20 + b"\n%%EOF\n")
    with pytest.raises(MediaProcessingError) as caught:
        _process(junk, "application/pdf", tmp_path / "out")
    assert caught.value.code == "media_corrupt"


def test_docx_paragraphs(docx_file, tmp_path):
    result = _process(docx_file, DOCX_MIME, tmp_path)
    assert result.text == "Dear reader,\nThis is the second paragraph."
    assert result.facts.details.paragraphs == 2
    assert result.facts.stats.lines == 2


def test_docx_entities_are_refused_not_expanded(tmp_path):
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body><w:p><w:r><w:t>&lol2;</w:t></w:r></w:p></w:body></w:document>"
    )
    path = make.make_docx(tmp_path / "lol.docx", [], document_xml=laughs)
    with pytest.raises(MediaProcessingError) as caught:
        _process(path, DOCX_MIME, tmp_path / "out")
    assert caught.value.code == "media_corrupt"
    assert "DTD" in caught.value.message


def test_docx_body_size_is_capped(tmp_path):
    path = make.make_docx(tmp_path / "big.docx", ["x" * 5000])
    with pytest.raises(MediaProcessingError) as caught:
        _process(path, DOCX_MIME, tmp_path / "out", max_docx_xml_bytes=2048)
    assert caught.value.code == "document_too_large"


def test_truncated_docx(tmp_path):
    full = make.make_docx(tmp_path / "full.docx", [f"Paragraph {i}" for i in range(500)])
    cut = make.truncate(full, tmp_path / "cut.docx", 0.7)
    with pytest.raises(MediaProcessingError) as caught:
        _process(cut, DOCX_MIME, tmp_path / "out")
    assert caught.value.code == "media_truncated"


def test_zip_without_a_document_body(tmp_path):
    path = tmp_path / "odd.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/other.xml", "<x/>")
    with pytest.raises(MediaProcessingError) as caught:
        _process(path, DOCX_MIME, tmp_path / "out")
    assert caught.value.code == "media_corrupt"


def test_html_visible_text_only(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<!DOCTYPE html><html lang='de'><head><title>Die  Seite</title>"
        "<style>p { color: red }</style><script>alert('no')</script></head>"
        "<body><h1>Titel</h1><p>Erster &amp; zweiter<br>Satz</p>"
        "<ul><li>eins</li><li>zwei</li></ul><noscript>hidden</noscript>"
        "<table><tr><td>a</td><td>b</td></tr></table></body></html>",
        encoding="utf-8",
    )
    result = _process(path, "text/html", tmp_path / "out")
    assert result.text == "Titel\n\nErster & zweiter\nSatz\n\neins\nzwei\n\na\tb"
    assert (result.facts.details.title, result.facts.details.lang) == ("Die Seite", "de")
    for hidden in ("color", "alert", "hidden", "Die Seite"):
        assert hidden not in result.text


def test_html_declared_charset_is_honoured(tmp_path):
    path = tmp_path / "cyr.html"
    path.write_bytes(
        '<html><head><meta charset="windows-1251"></head><body><p>Привет, мир</p></body></html>'.encode(
            "cp1251"
        )
    )
    result = _process(path, "text/html", tmp_path / "out")
    assert result.text == "Привет, мир" and result.facts.details.encoding == "cp1251"


CYRILLIC = "Это длинный русский текст в кодировке windows-1251. " * 6


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Grüße aus Köln\r\nzweite Zeile".encode("cp1252"), "Grüße aus Köln\nzweite Zeile"),
        ("\ufeffBOM text".encode("utf-16"), "BOM text"),
        ("日本語のテキストです。".encode(), "日本語のテキストです。"),
        (CYRILLIC.encode("cp1251"), CYRILLIC),
    ],
    ids=["cp1252", "utf16-bom", "utf8-cjk", "cp1251-detected"],
)
def test_plain_text_charset_fallback(tmp_path, raw, expected):
    path = tmp_path / "t.txt"
    path.write_bytes(raw)
    assert _process(path, "text/plain", tmp_path / "out").text == expected


def test_markdown_is_kept_as_written(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("# Notes\n\n- one\n- two\n\nSee [docs](http://x.y).\n")
    result = _process(path, "text/markdown", tmp_path / "out")
    assert result.text.startswith("# Notes\n\n- one")
    assert result.facts.stats.paragraphs == 3


def test_text_is_capped_and_reading_stops(tmp_path):
    path = tmp_path / "huge.txt"
    path.write_text("word " * 200_000)  # 1 MB
    result = _process(path, "text/plain", tmp_path / "out", max_text_chars=1000)
    assert len(result.text) <= 1000 and result.facts.text_truncated is True
    assert result.facts.stats.words == len(result.text.split())
    assert result.facts.excerpt.endswith("…") and len(result.facts.excerpt) <= 501


def test_unsupported_and_encrypted_office_types(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"whatever")
    with pytest.raises(MediaProcessingError) as caught:
        _process(path, "application/x-encrypted-office", tmp_path / "out")
    assert caught.value.code == "document_encrypted"
    with pytest.raises(MediaProcessingError) as caught:
        _process(path, "application/rtf", tmp_path / "out")
    assert caught.value.code == "unsupported_media"

"""Text helpers: decoding with fallbacks, binary sniffing, statistics, excerpts."""

from __future__ import annotations

from analysis.processing.text import (
    cap_text,
    count_words,
    decode_text,
    excerpt,
    looks_like_text,
    text_statistics,
)


def test_decoding_order_bom_declared_utf8_then_fallback():
    assert decode_text("\ufeffhé".encode("utf-8-sig")).text == "hé"
    assert decode_text("hé".encode("utf-16")).encoding.startswith("utf-16")
    assert decode_text("Привет".encode("koi8-r"), "koi8-r").text == "Привет"
    assert decode_text("hé".encode()).encoding == "utf-8"
    short = decode_text("café".encode("cp1252"))
    assert (short.text, short.encoding) == ("café", "cp1252")


def test_a_head_cut_mid_character_is_still_utf8():
    data = "ab€".encode()[:-1]  # the euro sign's last byte is missing
    assert decode_text(data, partial=True) == decode_text(b"ab")
    assert looks_like_text(data)


def test_binary_is_not_text():
    assert not looks_like_text(b"\x00\x01\x02binary\x00")
    assert not looks_like_text(bytes(range(1, 32)) * 10)
    assert looks_like_text(b"line one\n\tline two\r\n")


def test_words_in_spaced_and_unspaced_scripts():
    assert count_words("Hello, wörld 42!") == 3
    assert count_words("你好世界") == 4  # each ideograph counts
    assert count_words("こんにちは world") == 6
    assert count_words("안녕하세요 친구") == 2  # Korean is written with spaces


def test_statistics():
    stats = text_statistics("First line\nsecond line\n\nNew paragraph here.")
    assert stats.as_dict() == {
        "chars": 43,
        "non_whitespace_chars": 36,
        "words": 7,
        "lines": 4,
        "non_empty_lines": 3,
        "paragraphs": 2,
    }


def test_excerpt_and_cap():
    text = "word " * 300
    short = excerpt(text, 50)
    assert short.endswith("…") and len(short) <= 51 and "  " not in short
    assert excerpt("  a\n\nb  ") == "a b"
    # Cut at a line break when one is near the limit, else at the limit.
    assert cap_text("a" * 95 + "\n" + "b" * 20, 100) == ("a" * 95, True)
    assert cap_text("a" * 150, 100) == ("a" * 100, True)
    assert cap_text("short", 20) == ("short", False)

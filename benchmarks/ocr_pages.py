"""OCR time per page (issue 13's closing note): a scanned A4 PDF (pages that are
only pictures, 150 dpi, a dozen lines of 40 px text each) goes through
``process_media`` as a request's would, and each page's read time is printed with
the words it got right. Not a timed test: it prints the figures once.

    .venv/bin/python benchmarks/ocr_pages.py [--pages 4]

The engine is loaded first and its load time printed apart: a worker process
pays it once, not per page.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image, ImageDraw, ImageFont

from analysis.processing import ProcessingOptions, process_media
from analysis.processing.ocr import get_engine

LINES = [
    "Invoice 2026-0042",
    "Customer: Example Trading GmbH",
    "Order date 2026-11-30, delivery within 14 days",
    "Item 1: 12 boxes of paper, 48.00 EUR",
    "Item 2: 3 toner cartridges, 186.56 EUR",
    "Item 3: service contract, 1,000.00 EUR",
    "Total due 1,234.56 EUR",
    "Payment by bank transfer to IBAN DE00 1234 5678",
    "Questions: accounts@example.org",
    "Thank you for your order",
]


def scanned_pdf(path: Path, pages: int) -> Path:
    font = ImageFont.load_default(size=40)
    pictures = []
    for number in range(1, pages + 1):
        page = Image.new("RGB", (1240, 1754), "white")
        draw = ImageDraw.Draw(page)
        for row, line in enumerate([f"Page {number}", *LINES]):
            draw.text((100, 150 + row * 90), line, fill="black", font=font)
        pictures.append(page)
    pictures[0].save(path, save_all=True, append_images=pictures[1:], resolution=150)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=4)
    args = parser.parse_args()
    began = time.perf_counter()
    get_engine()
    print(f"engine load: {time.perf_counter() - began:.2f} s (once per process)")
    with tempfile.TemporaryDirectory() as work:
        pdf = scanned_pdf(Path(work) / "scan.pdf", args.pages)
        options = ProcessingOptions(ocr_max_images=args.pages, max_rendered_pages=args.pages)
        facts = process_media(pdf, None, Path(work) / "out", options).facts
    expected = {word for line in LINES for word in line.split()}
    times = []
    for reading in facts.ocr.readings:
        got = set(reading.text.split())
        times.append(reading.time_ms / 1000)
        print(
            f"{reading.source}: {reading.time_ms / 1000:.2f} s, {reading.lines} lines, "
            f"confidence {reading.confidence}, words right {len(got & expected)}/{len(expected)}"
        )
    print(f"median per page: {statistics.median(times):.2f} s over {len(times)} pages")


if __name__ == "__main__":
    main()

"""Process one file from the command line and print the outcome as JSON:

    python -m analysis.processing FILE WORK_DIR [--frames 6] [--grid 2x3] [--resolution 1920x1080]

Exit status 0 on success, 2 when the media cannot be processed (the error code
and message are printed as JSON too). Handy for trying a file by hand, and the
benchmark times it as a command, like vcsi.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from analysis.processing import MediaProcessingError, ProcessingOptions, process_media


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.processing", description=__doc__.split("\n")[0]
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("--frames", type=int, default=ProcessingOptions.frames_count)
    parser.add_argument("--grid", default=ProcessingOptions.grid)
    parser.add_argument("--resolution", default=ProcessingOptions.resolution)
    args = parser.parse_args(argv)
    options = ProcessingOptions(
        frames_count=args.frames, grid=args.grid, resolution=args.resolution
    )
    try:
        outcome = process_media(args.file, None, args.work_dir, options)
    except MediaProcessingError as exc:
        print(json.dumps({"error_code": exc.code, "message": exc.message}))
        return 2
    print(
        json.dumps(
            {
                "media_type": outcome.media_type,
                "mime_type": outcome.mime_type,
                "extension": outcome.extension,
                "images": [[str(path), mime] for path, mime in outcome.images],
                "text_chars": None if outcome.text is None else len(outcome.text),
                "facts": outcome.facts.as_dict(),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

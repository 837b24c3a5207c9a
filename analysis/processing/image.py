"""Images: dimensions, format, EXIF, and a normalised copy for the provider.

The copy is what a vision model should see: EXIF orientation applied (a phone
photo taken upright stays upright), RGB (transparency flattened on white),
longest side capped, JPEG. Pictures with more pixels than ``max_image_pixels``
are refused before their pixels are decoded (decompression bombs); Pillow's own
limit (twice ``Image.MAX_IMAGE_PIXELS``) applies on top.

GPS coordinates are not copied into the facts (only whether they exist): the
facts are stored and shown, and a location is personal data.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, ImageOps, TiffImagePlugin, UnidentifiedImageError

from analysis.processing.detect import detect_media
from analysis.processing.errors import (
    IMAGE_TOO_LARGE,
    MEDIA_CORRUPT,
    MEDIA_TRUNCATED,
    UNSUPPORTED_MEDIA,
    MediaProcessingError,
)
from analysis.processing.facts import ImageFacts, NormalizedImageFacts
from analysis.processing.options import ProcessingOptions

NORMALIZED_NAME = "normalized.jpg"
READABLE_IMAGE_MIME_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/tiff",
        "image/bmp",
        "image/x-icon",
        "image/avif",
    }
)
MAX_EXIF_TEXT = 200

# EXIF tags worth recording: what took the picture, when, and how.
_BASE_TAGS = ("Make", "Model", "Software", "DateTime", "Orientation", "Artist", "ImageDescription")
_EXIF_TAGS = (
    "DateTimeOriginal",
    "ExposureTime",
    "FNumber",
    "ISOSpeedRatings",
    "FocalLength",
    "LensModel",
    "Flash",
    "ExifImageWidth",
    "ExifImageHeight",
)
_TAG_IDS = {name: tag for tag, name in ExifTags.TAGS.items()}


@dataclass(frozen=True)
class ImageResult:
    facts: ImageFacts
    normalized: Path


def process_image(path: Path, work_dir: Path, options: ProcessingOptions) -> ImageResult:
    """Measure the image at ``path`` and write ``work_dir/normalized.jpg``."""
    started = time.perf_counter()
    with _open(path) as image:
        _refuse_bombs(image, options.max_image_pixels)
        described = _describe(image, path)
        timings = {"probe_ms": _ms_since(started)}
        mark = time.perf_counter()
        normalized = _normalize(image, work_dir / NORMALIZED_NAME, options)
    normalized_facts = NormalizedImageFacts(
        path=str(normalized.path),
        width=normalized.width,
        height=normalized.height,
        size_bytes=normalized.path.stat().st_size,
    )
    timings["normalize_ms"] = _ms_since(mark)
    facts = ImageFacts(**described, timings_ms=timings, normalized=normalized_facts)
    return ImageResult(facts=facts, normalized=normalized.path)


def _ms_since(mark: float) -> float:
    return round((time.perf_counter() - mark) * 1000, 1)


def _open(path: Path) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Our own pixel limit decides; Pillow's warning at its lower default is noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except Image.DecompressionBombError as exc:
        raise MediaProcessingError(
            IMAGE_TOO_LARGE, "The image has too many pixels to process safely."
        ) from exc
    except UnidentifiedImageError as exc:
        raise _unidentified(path) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _load_error(exc) from exc


def _unidentified(path: Path) -> MediaProcessingError:
    """Pillow could not read it: damaged if it claims a format Pillow reads,
    otherwise a format we do not support."""
    try:
        mime = detect_media(path).mime_type
    except MediaProcessingError as exc:
        return exc
    if mime in READABLE_IMAGE_MIME_TYPES:
        return MediaProcessingError(
            MEDIA_CORRUPT, "The image file is damaged and cannot be decoded."
        )
    return MediaProcessingError(
        UNSUPPORTED_MEDIA,
        f"This image format ({mime}) is not supported; send JPEG, PNG, WebP, GIF, TIFF, BMP or AVIF.",
    )


def _load_error(exc: BaseException) -> MediaProcessingError:
    if "truncated" in str(exc).lower() or isinstance(exc, EOFError):
        return MediaProcessingError(
            MEDIA_TRUNCATED,
            "The image file ends early, as if the upload was cut off; send the complete file again.",
        )
    return MediaProcessingError(MEDIA_CORRUPT, "The image file is damaged and cannot be decoded.")


def _refuse_bombs(image: Image.Image, max_pixels: int) -> None:
    width, height = image.size
    if width * height > max_pixels:
        raise MediaProcessingError(
            IMAGE_TOO_LARGE,
            f"The image is {width}x{height} ({width * height:,} pixels), more than the "
            f"{max_pixels:,} pixels this service accepts.",
        )


def _exif_value(value):
    """An EXIF value as JSON: rationals as floats, text trimmed, bytes dropped."""
    if isinstance(value, TiffImagePlugin.IFDRational):
        return None if value.denominator == 0 else round(float(value), 6)
    if isinstance(value, bytes):
        return None
    if isinstance(value, str):
        return value.replace("\x00", "").strip()[:MAX_EXIF_TEXT] or None
    if isinstance(value, tuple | list):
        items = [_exif_value(item) for item in value[:16]]
        return items if all(item is not None for item in items) else None
    if isinstance(value, int | float | bool):
        return value
    return None


def exif_facts(image: Image.Image) -> dict:
    """Selected EXIF tags as a JSON-ready dict (empty when there is no EXIF)."""
    try:
        exif = image.getexif()
    except (OSError, SyntaxError, ValueError, TypeError):
        return {}
    facts: dict = {}
    for name in _BASE_TAGS:
        value = _exif_value(exif.get(_TAG_IDS[name]))
        if value is not None:
            facts[name] = value
    try:
        details = exif.get_ifd(ExifTags.IFD.Exif)
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError):
        details, gps = {}, {}
    for name in _EXIF_TAGS:
        value = _exif_value(details.get(_TAG_IDS[name]))
        if value is not None:
            facts[name] = value
    facts["gps_present"] = bool(gps)
    return facts


_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}


def _describe(image: Image.Image, path: Path) -> dict[str, Any]:
    """The ImageFacts fields that the opened picture gives, by name."""
    exif = exif_facts(image)
    orientation = exif.get("Orientation") if isinstance(exif.get("Orientation"), int) else 1
    width, height = image.size
    display = (height, width) if orientation in _TRANSPOSED_ORIENTATIONS else (width, height)
    return {
        "format": image.format,
        "mime_type": image.get_format_mimetype() if hasattr(image, "get_format_mimetype") else None,
        "mode": image.mode,
        "width": width,
        "height": height,
        "orientation": orientation,
        "display_width": display[0],
        "display_height": display[1],
        "has_alpha": image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info,
        "animated": bool(getattr(image, "is_animated", False)),
        "frame_count": int(getattr(image, "n_frames", 1)),
        "has_icc_profile": bool(image.info.get("icc_profile")),
        "size_bytes": path.stat().st_size,
        "exif": exif,
    }


@dataclass(frozen=True)
class _Normalized:
    path: Path
    width: int
    height: int


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB with any transparency flattened onto white."""
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        return ImageOps.autocontrast(
            image.convert("I").point(lambda v: v / 256).convert("L")
        ).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def _normalize(image: Image.Image, out_path: Path, options: ProcessingOptions) -> _Normalized:
    side = options.max_image_side
    try:
        if image.format == "JPEG":
            # Let the JPEG decoder scale down by 1/2..1/8 while decoding: far less
            # work and memory for a 50-megapixel photo, same result after resize.
            image.draft("RGB", (side, side))
        image.load()
        upright = ImageOps.exif_transpose(image) or image
        picture = _to_rgb(upright)
        if max(picture.size) > side:
            picture.thumbnail((side, side), Image.Resampling.LANCZOS, reducing_gap=3.0)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        picture.save(out_path, "JPEG", quality=options.jpeg_quality)
    except MediaProcessingError:
        raise
    except Image.DecompressionBombError as exc:
        raise MediaProcessingError(
            IMAGE_TOO_LARGE, "The image has too many pixels to process safely."
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError, TypeError) as exc:
        raise _load_error(exc) from exc
    return _Normalized(path=out_path, width=picture.width, height=picture.height)

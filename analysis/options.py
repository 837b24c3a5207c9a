"""What a caller may ask of one analysis beyond the prompt, and how a stored media
reference is spelled. Pure: settings read the grid and resolution rules from here
at start-up, so nothing heavier than ``django.conf`` is imported at module level.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.conf import settings

from media_analysis.errors import InvalidRequest

if TYPE_CHECKING:
    from analysis.processing import ProcessingOptions

# An uploaded file's request stores this instead of a URL: upload://<request id>.
UPLOAD_URL_SCHEME = "upload://"

# The providers a request (or MEDIA_ANALYSIS_DEFAULT_PROVIDER) may name; what each
# one is lives in analysis/providers/registry.py.
BUILTIN, OPENROUTER, NOVITA, OPENAI, GEMINI = "builtin", "openrouter", "novita", "openai", "gemini"
PROVIDER_NAMES: tuple[str, ...] = (BUILTIN, OPENROUTER, NOVITA, OPENAI, GEMINI)

OPTION_NAMES = ("frames", "grid", "resolution", "force", "response_schema")
# Speech to text (analysis/transcription/): true requires it, false skips it.
OPTION_NAMES += ("transcribe",)
# Text in pictures (analysis/processing/ocr.py): true also reads video frames,
# false reads nothing.
OPTION_NAMES += ("ocr",)
# The most one request may spend, in USD (analysis/costs/guard.py).
OPTION_NAMES += ("max_cost_usd",)
MAX_COST_LIMIT = Decimal("100000")
MIN_COST = Decimal("0.000001")  # the cap's unit: a micro-dollar
_GRID = re.compile(r"([1-9]|10)x([1-9]|10)")
_RESOLUTION = re.compile(r"(\d{3,4})x(\d{3,4})")
MIN_SIZE, MAX_SIZE = (320, 240), (7680, 4320)


def parse_grid(text: str) -> tuple[int, int] | None:
    """``"2x3"`` -> (2, 3): columns and rows, 1 to 10 each; None if not a grid."""
    match = _GRID.fullmatch(text)
    return (int(match[1]), int(match[2])) if match else None


def parse_resolution(text: str) -> tuple[int, int] | None:
    """``"1920x1080"`` -> (1920, 1080), between 320x240 and 7680x4320; else None."""
    match = _RESOLUTION.fullmatch(text)
    if not match:
        return None
    width, height = int(match[1]), int(match[2])
    fits = MIN_SIZE[0] <= width <= MAX_SIZE[0] and MIN_SIZE[1] <= height <= MAX_SIZE[1]
    return (width, height) if fits else None


@dataclass(frozen=True)
class AnalysisOptions:
    """Per-request processing options; unknown keys are refused, not ignored.

    ``response_schema`` is the caller's JSON Schema for a structured answer
    (``analysis/providers/structured.py``); None asks for free text.
    """

    frames: int
    grid: str
    resolution: str
    force: bool = False
    response_schema: dict[str, Any] | None = None
    # None: transcribed whenever TRANSCRIPTION_BASE_URL is set, failures only recorded.
    transcribe: bool | None = None
    # None: OCR of images and text-less PDF pages (not frames) while OCR_ENABLED.
    ocr: bool | None = None
    # None: no cap of its own (the owner's budgets still apply).
    max_cost_usd: Decimal | None = None

    @classmethod
    def parse(cls, raw: dict[str, Any] | None, *, stored: bool = False) -> AnalysisOptions:
        """``stored``: options checked on submit, read again by the worker; checks
        that depend on settings (a transcription endpoint) are not repeated."""
        raw = dict(raw or {})
        unknown = set(raw) - set(OPTION_NAMES)
        if unknown:
            raise InvalidRequest(
                "unknown_option",
                f"Unknown option(s): {', '.join(sorted(unknown))}. "
                f"Allowed: {', '.join(OPTION_NAMES)}.",
                field="options",
            )
        grid = str(raw.get("grid", settings.CONTACT_SHEET_GRID))
        cells = parse_grid(grid)
        if cells is None:
            raise InvalidRequest(
                "invalid_grid",
                "grid must look like COLSxROWS with 1 to 10 each, e.g. 2x3.",
                field="options.grid",
            )
        resolution = str(raw.get("resolution", settings.CONTACT_SHEET_RESOLUTION))
        if parse_resolution(resolution) is None:
            raise InvalidRequest(
                "invalid_resolution",
                "resolution must be WIDTHxHEIGHT between 320x240 and 7680x4320.",
                field="options.resolution",
            )
        most = cells[0] * cells[1]
        frames = raw.get("frames", most)
        if isinstance(frames, bool) or not isinstance(frames, int) or not 1 <= frames <= most:
            raise InvalidRequest(
                "invalid_frames",
                f"frames must be a whole number from 1 to {most} (the grid's cells).",
                field="options.frames",
            )
        force = raw.get("force", False)
        if not isinstance(force, bool):
            raise InvalidRequest(
                "invalid_force", "force must be true or false.", field="options.force"
            )
        schema = raw.get("response_schema")
        if schema is not None:
            # Imported here: jsonschema is only needed when a schema was given, and
            # this module is read by settings at every process start.
            from analysis.providers.structured import check_schema

            schema = check_schema(schema)
        return cls(
            frames=frames,
            grid=grid,
            resolution=resolution,
            force=force,
            response_schema=schema,
            transcribe=_parse_transcribe(raw, stored),
            ocr=_parse_ocr(raw, stored),
            max_cost_usd=_parse_max_cost(raw.get("max_cost_usd")),
        )

    def as_dict(self) -> dict[str, Any]:
        # Without a schema the stored options keep the shape they always had.
        options = asdict(self)
        if options["response_schema"] is None:
            del options["response_schema"]
        if options["transcribe"] is None:
            del options["transcribe"]
        if options["ocr"] is None:
            del options["ocr"]
        if options["max_cost_usd"] is None:
            del options["max_cost_usd"]
        else:  # kept as text in JSON: an exact decimal, not a float
            options["max_cost_usd"] = format(options["max_cost_usd"].normalize(), "f")
        return options

    def processing(self) -> ProcessingOptions:
        """These options in the form ``analysis.processing`` takes."""
        # Imported here: processing pulls in PyAV, NumPy and Pillow, and this module
        # is read by settings at every process start.
        from analysis.processing import ProcessingOptions

        return ProcessingOptions(
            frames_count=self.frames,
            grid=self.grid,
            resolution=self.resolution,
            **self._ocr_processing(),
        )

    def _ocr_processing(self) -> dict[str, Any]:
        """OCR's part of the processing options, from ``ocr`` and the OCR_* settings."""
        enabled = getattr(settings, "OCR_ENABLED", True) and self.ocr is not False
        return {
            "ocr_images": enabled,
            "ocr_pages": enabled,
            "ocr_frames": enabled and self.ocr is True,
            "ocr_max_images": getattr(settings, "OCR_MAX_IMAGES", 8),
            "ocr_seconds_per_image": getattr(settings, "OCR_SECONDS_PER_IMAGE", 10.0),
        }


def _parse_transcribe(raw: dict[str, Any], stored: bool) -> bool | None:
    """``options.transcribe``: true needs a transcription endpoint, checked here so
    the caller hears it on submit rather than from a failed request."""
    value = raw.get("transcribe")
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidRequest(
            "invalid_transcribe", "transcribe must be true or false.", field="options.transcribe"
        )
    endpoint = (getattr(settings, "TRANSCRIPTION_BASE_URL", None) or "").strip()
    if value and not stored and not endpoint:
        raise InvalidRequest(
            "transcription_not_configured",
            "transcribe=true needs a transcription endpoint, and TRANSCRIPTION_BASE_URL "
            "is not set on this service.",
            field="options.transcribe",
        )
    return value


def _parse_ocr(raw: dict[str, Any], stored: bool) -> bool | None:
    """``options.ocr``: true reads video frames too, false nothing. True is refused
    on submit while OCR_ENABLED is off; a stored request read again by the worker
    after the switch went off is processed without OCR."""
    value = raw.get("ocr")
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidRequest("invalid_ocr", "ocr must be true or false.", field="options.ocr")
    if value and not stored and not getattr(settings, "OCR_ENABLED", True):
        raise InvalidRequest(
            "ocr_disabled",
            "ocr=true asks for text in pictures, and OCR_ENABLED is off on this service.",
            field="options.ocr",
        )
    return value


def _parse_max_cost(value: Any) -> Decimal | None:
    """``options.max_cost_usd``: an amount of USD (a JSON number or a decimal string)
    from ``MIN_COST`` to ``MAX_COST_LIMIT``, kept to the micro-dollar (rounded half
    up: a float like 0.1 arrives as 0.1000000000000000055...)."""
    if value is None:
        return None
    amount = None
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            amount = None
    if amount is None or not amount.is_finite() or not MIN_COST <= amount <= MAX_COST_LIMIT:
        raise InvalidRequest(
            "invalid_max_cost_usd",
            f"max_cost_usd must be an amount of USD from {MIN_COST} to {MAX_COST_LIMIT} "
            "(e.g. 0.05).",
            field="options.max_cost_usd",
        )
    return amount.quantize(MIN_COST, rounding=ROUND_HALF_UP)

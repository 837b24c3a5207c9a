"""Typed facts for provider tests that need facts but not a real file (a request
built at import time): the values processing writes for the media factory's
files (tests/processing/media_factory.py). Tests of what a report says about
facts use facts from real processing instead (see test_builtin.py)."""

from __future__ import annotations

from analysis.processing.facts import (
    AudioFacts,
    AudioStreamFacts,
    ContactSheetFacts,
    DetectedMedia,
    DocumentFacts,
    FrameFacts,
    FrameSelectionFacts,
    ImageFacts,
    LoudnessFacts,
    NormalizedImageFacts,
    OcrFacts,
    OcrReading,
    PdfFacts,
    TextStats,
    VideoFacts,
    VideoStreamFacts,
    WaveformFacts,
)


def audio_stream(seconds: float) -> AudioStreamFacts:
    return AudioStreamFacts(
        codec="aac",
        codec_long_name="AAC (Advanced Audio Coding)",
        sample_rate=48000,
        channels=2,
        channel_layout="stereo",
        sample_format="fltp",
        bit_rate=128_000,
        duration_s=seconds,
    )


def video_facts(seconds: float = 12.5) -> VideoFacts:
    """A 320x240 H.264 clip at 25 fps with AAC stereo sound, six frames taken."""
    frames = tuple(
        FrameFacts(
            path=f"/work/frame_{index:03d}.jpg",
            time_s=round(seconds * (index - 0.5) / 6, 3),
            keyframe=True,
            width=320,
            height=240,
            index=index,
        )
        for index in range(1, 7)
    )
    return VideoFacts(
        container="mov,mp4,m4a,3gp,3g2,mj2",
        container_long_name="QuickTime / MOV",
        duration_s=seconds,
        bit_rate=250_000,
        size_bytes=round(seconds * 31_250),
        stream_count=2,
        video=VideoStreamFacts(
            codec="h264",
            codec_long_name="H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10",
            profile="High",
            width=320,
            height=240,
            pix_fmt="yuv420p",
            frame_rate=25.0,
            frame_count=round(seconds * 25),
            bit_rate=120_000,
            duration_s=seconds,
            sample_aspect_ratio=None,
        ),
        video_stream_count=1,
        audio=audio_stream(seconds),
        audio_stream_count=1,
        frames=frames,
        frames_requested=6,
        frames_decoded_past_keyframe=0,
        decode_errors=0,
        frames_skipped_as_repeats=0,
        truncated=False,
        contact_sheet=ContactSheetFacts(
            path="/work/contact_sheet.jpg",
            frames_count=6,
            grid_layout="2x3",
            resolution="1920x1080",
            size_bytes=90_000,
        ),
        timings_ms={
            "probe_ms": 5.0,
            "frames_ms": 40.0,
            "contact_sheet_ms": 30.0,
            "detect_ms": 0.1,
            "total_ms": 76.0,
        },
        detected=DetectedMedia("video", "video/mp4", ".mp4", "iso-bmff:isom"),
        frame_selection=FrameSelectionFacts(
            method="scenes",
            scan="full",
            keyframes_indexed=13,
            keyframes_decoded=13,
            scene_changes_s=(),
            skipped_black=0,
            skipped_blurry=0,
            skipped_duplicate=0,
        ),
    )


def audio_facts(seconds: float = 2.0) -> AudioFacts:
    """A half-scale 440 Hz tone in a mono 16-bit WAV."""
    return AudioFacts(
        container="wav",
        container_long_name="WAV / WAVE (Waveform Audio)",
        duration_s=seconds,
        bit_rate=705_912,
        size_bytes=round(seconds * 88_200) + 78,
        stream_count=1,
        audio=AudioStreamFacts(
            codec="pcm_s16le",
            codec_long_name="PCM signed 16-bit little-endian",
            sample_rate=44100,
            channels=1,
            channel_layout="1 channels",
            sample_format="s16",
            bit_rate=705_600,
            duration_s=seconds,
        ),
        audio_stream_count=1,
        decoded_duration_s=seconds,
        decode_errors=0,
        truncated=False,
        loudness=LoudnessFacts(
            peak_dbfs=-6.02,
            rms_dbfs=-9.03,
            silence_ratio=0.0,
            silence_threshold_dbfs=-50.0,
            window_ms=50,
            windows=round(seconds * 20),
        ),
        waveform=WaveformFacts(path="/work/waveform.png", size="1600x400"),
        timings_ms={
            "probe_ms": 1.0,
            "analysis_ms": 2.0,
            "waveform_ms": 40.0,
            "detect_ms": 0.1,
            "total_ms": 43.2,
        },
        detected=DetectedMedia("audio", "audio/wav", ".wav", "riff:wave"),
    )


def image_facts() -> ImageFacts:
    """A 400x200 JPEG with camera EXIF."""
    return ImageFacts(
        format="JPEG",
        mime_type="image/jpeg",
        mode="RGB",
        width=400,
        height=200,
        orientation=1,
        display_width=400,
        display_height=200,
        has_alpha=False,
        animated=False,
        frame_count=1,
        has_icc_profile=False,
        size_bytes=2438,
        exif={"Make": "TestCam", "Model": "Model 1", "gps_present": False},
        timings_ms={
            "probe_ms": 0.5,
            "normalize_ms": 1.0,
            "detect_ms": 0.1,
            "ocr_ms": 150.0,
            "total_ms": 151.7,
        },
        normalized=NormalizedImageFacts(
            path="/work/normalized.jpg", width=400, height=200, size_bytes=2343
        ),
        detected=DetectedMedia("image", "image/jpeg", ".jpg", "jpeg"),
        # Images are read by OCR by default; a photo without text gives no lines.
        ocr=OcrFacts(
            engine="rapidocr-onnxruntime",
            readings=(OcrReading("image", None, "", None, 0, 148.0),),
            max_images=8,
            seconds_per_image=10.0,
            skipped_over_cap=0,
            skipped_for_time=0,
            total_ms=150.0,
        ),
    )


def document_facts(text: str = "some text here on a page") -> DocumentFacts:
    """A one-page PDF with a text layer."""
    return DocumentFacts(
        format="application/pdf",
        size_bytes=861,
        details=PdfFacts(
            page_count=1,
            pages_examined=1,
            pages_with_text=1,
            pages_without_text=(),
            rendered_pages=(),
            page_errors=0,
            render_errors=0,
            encrypted=False,
            complete=True,
            pdf_version="1.4",
            metadata={},
        ),
        text_truncated=False,
        max_text_chars=200_000,
        stats=TextStats(
            chars=len(text),
            non_whitespace_chars=sum(1 for ch in text if not ch.isspace()),
            words=len(text.split()),
            lines=text.count("\n") + 1,
            non_empty_lines=sum(1 for line in text.splitlines() if line.strip()),
            paragraphs=1,
        ),
        excerpt=" ".join(text.split()),
        timings_ms={"extract_ms": 3.0, "detect_ms": 0.1, "total_ms": 3.2},
        detected=DetectedMedia("document", "application/pdf", ".pdf", "pdf"),
    )

"""Speech to text for audio files and the sound track of videos (issue 13).

- ``types``: the dataclasses passed between the layers (no imports, so providers
  can read a transcript without pulling in HTTP or PyAV);
- ``audio``: PyAV extracts 16 kHz mono WAV, split under the upload limit with an
  overlap;
- ``client``: the OpenAI-compatible ``POST /audio/transcriptions`` call, with the
  providers' retries and a breaker named ``transcription``;
- ``stitch``: chunk segments to absolute times, duplicates in overlaps dropped;
- ``service``: when to transcribe, the whole run, WebVTT and the cost.

This package's ``__init__`` imports nothing, so ``types`` stays importable from
``analysis.providers.base`` without a cycle.
"""

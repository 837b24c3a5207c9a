"""Pure media processing: files in, facts and pictures out. No Django here, so
everything is tested on files alone.

The pipeline calls ``process_media``; ``detect_media`` alone tells what a file
is (type, MIME type, canonical extension) before it is stored. What processing
measured comes back as typed facts (``facts``: ``MediaFacts``), which providers
read by attribute and ``as_dict()`` turns into the stored JSON.
"""

from analysis.processing.contact_sheet import ContactSheet
from analysis.processing.detect import DetectedMedia, detect_media
from analysis.processing.errors import MediaProcessingError
from analysis.processing.facts import MediaFacts
from analysis.processing.options import ProcessingOptions
from analysis.processing.process import ProcessingOutcome, process_media

__all__ = [
    "ContactSheet",
    "DetectedMedia",
    "MediaFacts",
    "MediaProcessingError",
    "ProcessingOptions",
    "ProcessingOutcome",
    "detect_media",
    "process_media",
]

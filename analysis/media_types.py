"""The kinds of media the service tells apart: the one list that detection,
processing's facts, the providers and the database's ``media_type_enum`` share.
Pure: media processing (no Django) and the models both import it."""

VIDEO = "video"
AUDIO = "audio"
IMAGE = "image"
DOCUMENT = "document"
UNKNOWN = "unknown"
MEDIA_TYPES = (VIDEO, AUDIO, IMAGE, DOCUMENT, UNKNOWN)

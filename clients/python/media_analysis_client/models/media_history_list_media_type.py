from enum import StrEnum


class MediaHistoryListMediaType(StrEnum):
    AUDIO = "audio"
    DOCUMENT = "document"
    IMAGE = "image"
    UNKNOWN = "unknown"
    VIDEO = "video"

    def __str__(self) -> str:
        return str(self.value)

from enum import StrEnum


class MediaTypeEnum(StrEnum):
    AUDIO = "audio"
    DOCUMENT = "document"
    IMAGE = "image"
    UNKNOWN = "unknown"
    VIDEO = "video"

    def __str__(self) -> str:
        return str(self.value)

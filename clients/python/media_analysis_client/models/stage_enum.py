from enum import StrEnum


class StageEnum(StrEnum):
    ASKING_PROVIDER = "asking_provider"
    DOWNLOADING = "downloading"
    PROCESSING = "processing"
    QUEUED = "queued"
    RECORDING = "recording"
    TRANSCRIBING = "transcribing"

    def __str__(self) -> str:
        return str(self.value)

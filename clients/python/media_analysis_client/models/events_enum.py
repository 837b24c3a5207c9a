from enum import StrEnum


class EventsEnum(StrEnum):
    BATCH_COMPLETED = "batch.completed"
    REQUEST_CANCELLED = "request.cancelled"
    REQUEST_COMPLETED = "request.completed"
    REQUEST_FAILED = "request.failed"

    def __str__(self) -> str:
        return str(self.value)

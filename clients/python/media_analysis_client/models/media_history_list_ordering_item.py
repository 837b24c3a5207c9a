from enum import StrEnum


class MediaHistoryListOrderingItem(StrEnum):
    COMPLETED_AT = "completed_at"
    CREATED_AT = "created_at"
    LATENCY_MS = "latency_ms"
    RETRY_COUNT = "retry_count"
    STATUS = "status"
    VALUE_0 = "-completed_at"
    VALUE_1 = "-created_at"
    VALUE_2 = "-latency_ms"
    VALUE_3 = "-retry_count"
    VALUE_4 = "-status"

    def __str__(self) -> str:
        return str(self.value)

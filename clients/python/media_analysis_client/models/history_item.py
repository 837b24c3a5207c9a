from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.analysis_status_enum import AnalysisStatusEnum
from ..models.media_type_enum import MediaTypeEnum
from ..types import UNSET, Unset

T = TypeVar("T", bound="HistoryItem")


@_attrs_define
class HistoryItem:
    """One line of the history: enough to list and pick; details come from status.

    Attributes:
        id (UUID):
        prompt_preview (str):
        created_at (datetime.datetime | None):
        error_code (None | str):
        status_url (str):
        status (AnalysisStatusEnum | Unset): * `pending` - Pending
            * `processing` - Processing
            * `completed` - Completed
            * `failed` - Failed
            * `cancelled` - Cancelled
            * `deleted` - Deleted
        media_type (MediaTypeEnum | Unset): * `video` - Video
            * `audio` - Audio
            * `document` - Document
            * `image` - Image
            * `unknown` - Unknown
        provider (None | str | Unset):
        model_used (None | str | Unset):
        original_filename (None | str | Unset):
        retry_count (int | None | Unset):
        completed_at (datetime.datetime | None | Unset):
        latency_ms (int | None | Unset):
    """

    id: UUID
    prompt_preview: str
    created_at: datetime.datetime | None
    error_code: None | str
    status_url: str
    status: AnalysisStatusEnum | Unset = UNSET
    media_type: MediaTypeEnum | Unset = UNSET
    provider: None | str | Unset = UNSET
    model_used: None | str | Unset = UNSET
    original_filename: None | str | Unset = UNSET
    retry_count: int | None | Unset = UNSET
    completed_at: datetime.datetime | None | Unset = UNSET
    latency_ms: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        prompt_preview = self.prompt_preview

        created_at: None | str
        if isinstance(self.created_at, datetime.datetime):
            created_at = self.created_at.isoformat()
        else:
            created_at = self.created_at

        error_code: None | str
        error_code = self.error_code

        status_url = self.status_url

        status: str | Unset = UNSET
        if not isinstance(self.status, Unset):
            status = self.status.value

        media_type: str | Unset = UNSET
        if not isinstance(self.media_type, Unset):
            media_type = self.media_type.value

        provider: None | str | Unset
        if isinstance(self.provider, Unset):
            provider = UNSET
        else:
            provider = self.provider

        model_used: None | str | Unset
        if isinstance(self.model_used, Unset):
            model_used = UNSET
        else:
            model_used = self.model_used

        original_filename: None | str | Unset
        if isinstance(self.original_filename, Unset):
            original_filename = UNSET
        else:
            original_filename = self.original_filename

        retry_count: int | None | Unset
        if isinstance(self.retry_count, Unset):
            retry_count = UNSET
        else:
            retry_count = self.retry_count

        completed_at: None | str | Unset
        if isinstance(self.completed_at, Unset):
            completed_at = UNSET
        elif isinstance(self.completed_at, datetime.datetime):
            completed_at = self.completed_at.isoformat()
        else:
            completed_at = self.completed_at

        latency_ms: int | None | Unset
        if isinstance(self.latency_ms, Unset):
            latency_ms = UNSET
        else:
            latency_ms = self.latency_ms

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "prompt_preview": prompt_preview,
                "created_at": created_at,
                "error_code": error_code,
                "status_url": status_url,
            }
        )
        if status is not UNSET:
            field_dict["status"] = status
        if media_type is not UNSET:
            field_dict["media_type"] = media_type
        if provider is not UNSET:
            field_dict["provider"] = provider
        if model_used is not UNSET:
            field_dict["model_used"] = model_used
        if original_filename is not UNSET:
            field_dict["original_filename"] = original_filename
        if retry_count is not UNSET:
            field_dict["retry_count"] = retry_count
        if completed_at is not UNSET:
            field_dict["completed_at"] = completed_at
        if latency_ms is not UNSET:
            field_dict["latency_ms"] = latency_ms

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = UUID(d.pop("id"))

        prompt_preview = d.pop("prompt_preview")

        def _parse_created_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                created_at_type_0 = datetime.datetime.fromisoformat(data)

                return created_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        created_at = _parse_created_at(d.pop("created_at"))

        def _parse_error_code(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        error_code = _parse_error_code(d.pop("error_code"))

        status_url = d.pop("status_url")

        _status = d.pop("status", UNSET)
        status: AnalysisStatusEnum | Unset
        if isinstance(_status, Unset):
            status = UNSET
        else:
            status = AnalysisStatusEnum(_status)

        _media_type = d.pop("media_type", UNSET)
        media_type: MediaTypeEnum | Unset
        if isinstance(_media_type, Unset):
            media_type = UNSET
        else:
            media_type = MediaTypeEnum(_media_type)

        def _parse_provider(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        provider = _parse_provider(d.pop("provider", UNSET))

        def _parse_model_used(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        model_used = _parse_model_used(d.pop("model_used", UNSET))

        def _parse_original_filename(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        original_filename = _parse_original_filename(d.pop("original_filename", UNSET))

        def _parse_retry_count(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        retry_count = _parse_retry_count(d.pop("retry_count", UNSET))

        def _parse_completed_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                completed_at_type_0 = datetime.datetime.fromisoformat(data)

                return completed_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        completed_at = _parse_completed_at(d.pop("completed_at", UNSET))

        def _parse_latency_ms(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        latency_ms = _parse_latency_ms(d.pop("latency_ms", UNSET))

        history_item = cls(
            id=id,
            prompt_preview=prompt_preview,
            created_at=created_at,
            error_code=error_code,
            status_url=status_url,
            status=status,
            media_type=media_type,
            provider=provider,
            model_used=model_used,
            original_filename=original_filename,
            retry_count=retry_count,
            completed_at=completed_at,
            latency_ms=latency_ms,
        )

        history_item.additional_properties = d
        return history_item

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties

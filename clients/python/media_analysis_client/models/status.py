from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.analysis_status_enum import AnalysisStatusEnum
from ..models.media_type_enum import MediaTypeEnum
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.contact_sheet import ContactSheet
    from ..models.error_info import ErrorInfo
    from ..models.frame import Frame
    from ..models.links import Links
    from ..models.ocr import Ocr
    from ..models.options import Options
    from ..models.progress import Progress
    from ..models.result import Result
    from ..models.transcript import Transcript


T = TypeVar("T", bound="Status")


@_attrs_define
class Status:
    """One request: state, timings, error and, once completed, result and contact sheet.

    Attributes:
        id (UUID):
        progress (None | Progress): How far a pending or processing request has come; null once it has ended, and for a
            processing one whose progress is not known (its store, Redis, unreachable).
        media_url (str):
        prompt (str):
        model (None | str):
        options (Options): Schema of ``options`` (documentation only: unknown keys are refused by the service).
        created_at (datetime.datetime | None):
        error (ErrorInfo | None):
        result (None | Result):
        contact_sheet (ContactSheet | None):
        frames (list[Frame]):
        ocr (list[Ocr]):
        transcript (None | Transcript):
        links (Links):
        correlation_id (None | Unset | UUID): Traces one request across services and logs.
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
        original_filename (None | str | Unset):
        provider (None | str | Unset):
        model_used (None | str | Unset):
        retry_count (int | None | Unset):
        started_at (datetime.datetime | None | Unset):
        completed_at (datetime.datetime | None | Unset):
        latency_ms (int | None | Unset):
    """

    id: UUID
    progress: None | Progress
    media_url: str
    prompt: str
    model: None | str
    options: Options
    created_at: datetime.datetime | None
    error: ErrorInfo | None
    result: None | Result
    contact_sheet: ContactSheet | None
    frames: list[Frame]
    ocr: list[Ocr]
    transcript: None | Transcript
    links: Links
    correlation_id: None | Unset | UUID = UNSET
    status: AnalysisStatusEnum | Unset = UNSET
    media_type: MediaTypeEnum | Unset = UNSET
    original_filename: None | str | Unset = UNSET
    provider: None | str | Unset = UNSET
    model_used: None | str | Unset = UNSET
    retry_count: int | None | Unset = UNSET
    started_at: datetime.datetime | None | Unset = UNSET
    completed_at: datetime.datetime | None | Unset = UNSET
    latency_ms: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.contact_sheet import ContactSheet  # noqa: PLC0415
        from ..models.error_info import ErrorInfo  # noqa: PLC0415
        from ..models.progress import Progress  # noqa: PLC0415
        from ..models.result import Result  # noqa: PLC0415
        from ..models.transcript import Transcript  # noqa: PLC0415

        id = str(self.id)

        progress: dict[str, Any] | None
        if isinstance(self.progress, Progress):
            progress = self.progress.to_dict()
        else:
            progress = self.progress

        media_url = self.media_url

        prompt = self.prompt

        model: None | str
        model = self.model

        options = self.options.to_dict()

        created_at: None | str
        if isinstance(self.created_at, datetime.datetime):
            created_at = self.created_at.isoformat()
        else:
            created_at = self.created_at

        error: dict[str, Any] | None
        if isinstance(self.error, ErrorInfo):
            error = self.error.to_dict()
        else:
            error = self.error

        result: dict[str, Any] | None
        if isinstance(self.result, Result):
            result = self.result.to_dict()
        else:
            result = self.result

        contact_sheet: dict[str, Any] | None
        if isinstance(self.contact_sheet, ContactSheet):
            contact_sheet = self.contact_sheet.to_dict()
        else:
            contact_sheet = self.contact_sheet

        frames = []
        for frames_item_data in self.frames:
            frames_item = frames_item_data.to_dict()
            frames.append(frames_item)

        ocr = []
        for ocr_item_data in self.ocr:
            ocr_item = ocr_item_data.to_dict()
            ocr.append(ocr_item)

        transcript: dict[str, Any] | None
        if isinstance(self.transcript, Transcript):
            transcript = self.transcript.to_dict()
        else:
            transcript = self.transcript

        links = self.links.to_dict()

        correlation_id: None | str | Unset
        if isinstance(self.correlation_id, Unset):
            correlation_id = UNSET
        elif isinstance(self.correlation_id, UUID):
            correlation_id = str(self.correlation_id)
        else:
            correlation_id = self.correlation_id

        status: str | Unset = UNSET
        if not isinstance(self.status, Unset):
            status = self.status.value

        media_type: str | Unset = UNSET
        if not isinstance(self.media_type, Unset):
            media_type = self.media_type.value

        original_filename: None | str | Unset
        if isinstance(self.original_filename, Unset):
            original_filename = UNSET
        else:
            original_filename = self.original_filename

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

        retry_count: int | None | Unset
        if isinstance(self.retry_count, Unset):
            retry_count = UNSET
        else:
            retry_count = self.retry_count

        started_at: None | str | Unset
        if isinstance(self.started_at, Unset):
            started_at = UNSET
        elif isinstance(self.started_at, datetime.datetime):
            started_at = self.started_at.isoformat()
        else:
            started_at = self.started_at

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
                "progress": progress,
                "media_url": media_url,
                "prompt": prompt,
                "model": model,
                "options": options,
                "created_at": created_at,
                "error": error,
                "result": result,
                "contact_sheet": contact_sheet,
                "frames": frames,
                "ocr": ocr,
                "transcript": transcript,
                "links": links,
            }
        )
        if correlation_id is not UNSET:
            field_dict["correlation_id"] = correlation_id
        if status is not UNSET:
            field_dict["status"] = status
        if media_type is not UNSET:
            field_dict["media_type"] = media_type
        if original_filename is not UNSET:
            field_dict["original_filename"] = original_filename
        if provider is not UNSET:
            field_dict["provider"] = provider
        if model_used is not UNSET:
            field_dict["model_used"] = model_used
        if retry_count is not UNSET:
            field_dict["retry_count"] = retry_count
        if started_at is not UNSET:
            field_dict["started_at"] = started_at
        if completed_at is not UNSET:
            field_dict["completed_at"] = completed_at
        if latency_ms is not UNSET:
            field_dict["latency_ms"] = latency_ms

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.contact_sheet import ContactSheet  # noqa: PLC0415
        from ..models.error_info import ErrorInfo  # noqa: PLC0415
        from ..models.frame import Frame  # noqa: PLC0415
        from ..models.links import Links  # noqa: PLC0415
        from ..models.ocr import Ocr  # noqa: PLC0415
        from ..models.options import Options  # noqa: PLC0415
        from ..models.progress import Progress  # noqa: PLC0415
        from ..models.result import Result  # noqa: PLC0415
        from ..models.transcript import Transcript  # noqa: PLC0415

        d = dict(src_dict)
        id = UUID(d.pop("id"))

        def _parse_progress(data: object) -> None | Progress:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                progress_type_1 = Progress.from_dict(data)

                return progress_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Progress, data)

        progress = _parse_progress(d.pop("progress"))

        media_url = d.pop("media_url")

        prompt = d.pop("prompt")

        def _parse_model(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        model = _parse_model(d.pop("model"))

        options = Options.from_dict(d.pop("options"))

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

        def _parse_error(data: object) -> ErrorInfo | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                error_type_1 = ErrorInfo.from_dict(data)

                return error_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ErrorInfo | None, data)

        error = _parse_error(d.pop("error"))

        def _parse_result(data: object) -> None | Result:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                result_type_1 = Result.from_dict(data)

                return result_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Result, data)

        result = _parse_result(d.pop("result"))

        def _parse_contact_sheet(data: object) -> ContactSheet | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                contact_sheet_type_1 = ContactSheet.from_dict(data)

                return contact_sheet_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ContactSheet | None, data)

        contact_sheet = _parse_contact_sheet(d.pop("contact_sheet"))

        frames = []
        _frames = d.pop("frames")
        for frames_item_data in _frames:
            frames_item = Frame.from_dict(frames_item_data)

            frames.append(frames_item)

        ocr = []
        _ocr = d.pop("ocr")
        for ocr_item_data in _ocr:
            ocr_item = Ocr.from_dict(ocr_item_data)

            ocr.append(ocr_item)

        def _parse_transcript(data: object) -> None | Transcript:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                transcript_type_1 = Transcript.from_dict(data)

                return transcript_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Transcript, data)

        transcript = _parse_transcript(d.pop("transcript"))

        links = Links.from_dict(d.pop("links"))

        def _parse_correlation_id(data: object) -> None | Unset | UUID:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                correlation_id_type_0 = UUID(data)

                return correlation_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UUID, data)

        correlation_id = _parse_correlation_id(d.pop("correlation_id", UNSET))

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

        def _parse_original_filename(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        original_filename = _parse_original_filename(d.pop("original_filename", UNSET))

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

        def _parse_retry_count(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        retry_count = _parse_retry_count(d.pop("retry_count", UNSET))

        def _parse_started_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                started_at_type_0 = datetime.datetime.fromisoformat(data)

                return started_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        started_at = _parse_started_at(d.pop("started_at", UNSET))

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

        status = cls(
            id=id,
            progress=progress,
            media_url=media_url,
            prompt=prompt,
            model=model,
            options=options,
            created_at=created_at,
            error=error,
            result=result,
            contact_sheet=contact_sheet,
            frames=frames,
            ocr=ocr,
            transcript=transcript,
            links=links,
            correlation_id=correlation_id,
            status=status,
            media_type=media_type,
            original_filename=original_filename,
            provider=provider,
            model_used=model_used,
            retry_count=retry_count,
            started_at=started_at,
            completed_at=completed_at,
            latency_ms=latency_ms,
        )

        status.additional_properties = d
        return status

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

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.options_response_schema import OptionsResponseSchema


T = TypeVar("T", bound="Options")


@_attrs_define
class Options:
    """Schema of ``options`` (documentation only: unknown keys are refused by the service).

    Attributes:
        frames (int | Unset):
        grid (str | Unset):
        resolution (str | Unset):
        force (bool | Unset):
        ocr (bool | Unset): Text in pictures: unset reads the image and text-less PDF pages, true reads the chosen video
            frames too, false reads nothing.
        response_schema (OptionsResponseSchema | Unset): A JSON Schema (Draft 2020-12 unless $schema names another
            draft), at most 16 KB as compact JSON, references inside itself only. The answer is JSON matching it, returned
            as result.data; a model's answer that does not match is repaired once, then the request fails with
            schema_mismatch.
        transcribe (bool | Unset): Speech to text for audio and video. Unset: transcribed whenever the service has a
            transcription endpoint, a failure only recorded. true: required (400 without TRANSCRIPTION_BASE_URL; a failure
            fails the request with transcription_failed). false: skipped.
        max_cost_usd (float | Unset): The most this request may spend, in USD (provider calls and speech to text). A
            provider call that could take it past this is not made: the request fails with budget_exceeded.
    """

    frames: int | Unset = UNSET
    grid: str | Unset = UNSET
    resolution: str | Unset = UNSET
    force: bool | Unset = UNSET
    ocr: bool | Unset = UNSET
    response_schema: OptionsResponseSchema | Unset = UNSET
    transcribe: bool | Unset = UNSET
    max_cost_usd: float | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        frames = self.frames

        grid = self.grid

        resolution = self.resolution

        force = self.force

        ocr = self.ocr

        response_schema: dict[str, Any] | Unset = UNSET
        if not isinstance(self.response_schema, Unset):
            response_schema = self.response_schema.to_dict()

        transcribe = self.transcribe

        max_cost_usd = self.max_cost_usd

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if frames is not UNSET:
            field_dict["frames"] = frames
        if grid is not UNSET:
            field_dict["grid"] = grid
        if resolution is not UNSET:
            field_dict["resolution"] = resolution
        if force is not UNSET:
            field_dict["force"] = force
        if ocr is not UNSET:
            field_dict["ocr"] = ocr
        if response_schema is not UNSET:
            field_dict["response_schema"] = response_schema
        if transcribe is not UNSET:
            field_dict["transcribe"] = transcribe
        if max_cost_usd is not UNSET:
            field_dict["max_cost_usd"] = max_cost_usd

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.options_response_schema import OptionsResponseSchema  # noqa: PLC0415

        d = dict(src_dict)
        frames = d.pop("frames", UNSET)

        grid = d.pop("grid", UNSET)

        resolution = d.pop("resolution", UNSET)

        force = d.pop("force", UNSET)

        ocr = d.pop("ocr", UNSET)

        _response_schema = d.pop("response_schema", UNSET)
        response_schema: OptionsResponseSchema | Unset
        if isinstance(_response_schema, Unset):
            response_schema = UNSET
        else:
            response_schema = OptionsResponseSchema.from_dict(_response_schema)

        transcribe = d.pop("transcribe", UNSET)

        max_cost_usd = d.pop("max_cost_usd", UNSET)

        options = cls(
            frames=frames,
            grid=grid,
            resolution=resolution,
            force=force,
            ocr=ocr,
            response_schema=response_schema,
            transcribe=transcribe,
            max_cost_usd=max_cost_usd,
        )

        options.additional_properties = d
        return options

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

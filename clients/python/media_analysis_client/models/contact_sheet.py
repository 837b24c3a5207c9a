from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="ContactSheet")


@_attrs_define
class ContactSheet:
    """
    Attributes:
        frames_count (int):
        grid_layout (None | str):
        resolution (None | str):
        file_size_bytes (int | None):
        url (str):
    """

    frames_count: int
    grid_layout: None | str
    resolution: None | str
    file_size_bytes: int | None
    url: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        frames_count = self.frames_count

        grid_layout: None | str
        grid_layout = self.grid_layout

        resolution: None | str
        resolution = self.resolution

        file_size_bytes: int | None
        file_size_bytes = self.file_size_bytes

        url = self.url

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "frames_count": frames_count,
                "grid_layout": grid_layout,
                "resolution": resolution,
                "file_size_bytes": file_size_bytes,
                "url": url,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        frames_count = d.pop("frames_count")

        def _parse_grid_layout(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        grid_layout = _parse_grid_layout(d.pop("grid_layout"))

        def _parse_resolution(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        resolution = _parse_resolution(d.pop("resolution"))

        def _parse_file_size_bytes(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        file_size_bytes = _parse_file_size_bytes(d.pop("file_size_bytes"))

        url = d.pop("url")

        contact_sheet = cls(
            frames_count=frames_count,
            grid_layout=grid_layout,
            resolution=resolution,
            file_size_bytes=file_size_bytes,
            url=url,
        )

        contact_sheet.additional_properties = d
        return contact_sheet

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

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="Frame")


@_attrs_define
class Frame:
    """
    Attributes:
        index (int): 1 for the first frame, in time order.
        timestamp_seconds (float): Position in the source video.
        scene (int | None): The scene it shows (1 the first), when chosen by scene.
        url (str): GET it for the JPEG.
    """

    index: int
    timestamp_seconds: float
    scene: int | None
    url: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        index = self.index

        timestamp_seconds = self.timestamp_seconds

        scene: int | None
        scene = self.scene

        url = self.url

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "index": index,
                "timestamp_seconds": timestamp_seconds,
                "scene": scene,
                "url": url,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        index = d.pop("index")

        timestamp_seconds = d.pop("timestamp_seconds")

        def _parse_scene(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        scene = _parse_scene(d.pop("scene"))

        url = d.pop("url")

        frame = cls(
            index=index,
            timestamp_seconds=timestamp_seconds,
            scene=scene,
            url=url,
        )

        frame.additional_properties = d
        return frame

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

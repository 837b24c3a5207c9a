from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="Links")


@_attrs_define
class Links:
    """
    Attributes:
        status (str):
        contact_sheet (str):
        retry (str):
        cancel (str):
        delete (str):
    """

    status: str
    contact_sheet: str
    retry: str
    cancel: str
    delete: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        status = self.status

        contact_sheet = self.contact_sheet

        retry = self.retry

        cancel = self.cancel

        delete = self.delete

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "status": status,
                "contact_sheet": contact_sheet,
                "retry": retry,
                "cancel": cancel,
                "delete": delete,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        status = d.pop("status")

        contact_sheet = d.pop("contact_sheet")

        retry = d.pop("retry")

        cancel = d.pop("cancel")

        delete = d.pop("delete")

        links = cls(
            status=status,
            contact_sheet=contact_sheet,
            retry=retry,
            cancel=cancel,
            delete=delete,
        )

        links.additional_properties = d
        return links

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

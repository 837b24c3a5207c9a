from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="BatchAccepted")


@_attrs_define
class BatchAccepted:
    """
    Attributes:
        id (UUID):
        item_count (int):
        item_ids (list[UUID]):
        created_at (datetime.datetime):
        status_url (str):
        callback_secret (str | Unset): http(s) URL told when the request completes, fails or is cancelled: a signed POST
            (Standard Webhooks) of its status JSON. Public addresses only (the media URL rule).
    """

    id: UUID
    item_count: int
    item_ids: list[UUID]
    created_at: datetime.datetime
    status_url: str
    callback_secret: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        item_count = self.item_count

        item_ids = []
        for item_ids_item_data in self.item_ids:
            item_ids_item = str(item_ids_item_data)
            item_ids.append(item_ids_item)

        created_at = self.created_at.isoformat()

        status_url = self.status_url

        callback_secret = self.callback_secret

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "item_count": item_count,
                "item_ids": item_ids,
                "created_at": created_at,
                "status_url": status_url,
            }
        )
        if callback_secret is not UNSET:
            field_dict["callback_secret"] = callback_secret

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = UUID(d.pop("id"))

        item_count = d.pop("item_count")

        item_ids = []
        _item_ids = d.pop("item_ids")
        for item_ids_item_data in _item_ids:
            item_ids_item = UUID(item_ids_item_data)

            item_ids.append(item_ids_item)

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        status_url = d.pop("status_url")

        callback_secret = d.pop("callback_secret", UNSET)

        batch_accepted = cls(
            id=id,
            item_count=item_count,
            item_ids=item_ids,
            created_at=created_at,
            status_url=status_url,
            callback_secret=callback_secret,
        )

        batch_accepted.additional_properties = d
        return batch_accepted

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

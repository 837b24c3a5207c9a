from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.batch_status_enum import BatchStatusEnum

if TYPE_CHECKING:
    from ..models.batch_counts import BatchCounts
    from ..models.batch_item import BatchItem


T = TypeVar("T", bound="Batch")


@_attrs_define
class Batch:
    """A batch's progress: ``running`` until every item has ended, then
    ``completed`` (whatever each item's outcome: see ``counts``).

        Attributes:
            id (UUID):
            status (BatchStatusEnum): * `running` - running
                * `completed` - completed
            item_count (int):
            counts (BatchCounts): Items per status, every status listed.
            created_at (datetime.datetime):
            completed_at (datetime.datetime | None):
            items (list[BatchItem]):
    """

    id: UUID
    status: BatchStatusEnum
    item_count: int
    counts: BatchCounts
    created_at: datetime.datetime
    completed_at: datetime.datetime | None
    items: list[BatchItem]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        status = self.status.value

        item_count = self.item_count

        counts = self.counts.to_dict()

        created_at = self.created_at.isoformat()

        completed_at: None | str
        if isinstance(self.completed_at, datetime.datetime):
            completed_at = self.completed_at.isoformat()
        else:
            completed_at = self.completed_at

        items = []
        for items_item_data in self.items:
            items_item = items_item_data.to_dict()
            items.append(items_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "status": status,
                "item_count": item_count,
                "counts": counts,
                "created_at": created_at,
                "completed_at": completed_at,
                "items": items,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.batch_counts import BatchCounts  # noqa: PLC0415
        from ..models.batch_item import BatchItem  # noqa: PLC0415

        d = dict(src_dict)
        id = UUID(d.pop("id"))

        status = BatchStatusEnum(d.pop("status"))

        item_count = d.pop("item_count")

        counts = BatchCounts.from_dict(d.pop("counts"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        def _parse_completed_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                completed_at_type_0 = datetime.datetime.fromisoformat(data)

                return completed_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        completed_at = _parse_completed_at(d.pop("completed_at"))

        items = []
        _items = d.pop("items")
        for items_item_data in _items:
            items_item = BatchItem.from_dict(items_item_data)

            items.append(items_item)

        batch = cls(
            id=id,
            status=status,
            item_count=item_count,
            counts=counts,
            created_at=created_at,
            completed_at=completed_at,
            items=items,
        )

        batch.additional_properties = d
        return batch

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

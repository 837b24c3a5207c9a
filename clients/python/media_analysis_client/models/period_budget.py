from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="PeriodBudget")


@_attrs_define
class PeriodBudget:
    """
    Attributes:
        limit_usd (None | str): Null: unlimited.
        spent_usd (str): Recorded results' cost in the period.
        reserved_usd (str): Held by analyses running now.
        remaining_usd (None | str): Null: unlimited.
        resets_at (datetime.datetime): Next 00:00 UTC (day) or 1st (month).
    """

    limit_usd: None | str
    spent_usd: str
    reserved_usd: str
    remaining_usd: None | str
    resets_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        limit_usd: None | str
        limit_usd = self.limit_usd

        spent_usd = self.spent_usd

        reserved_usd = self.reserved_usd

        remaining_usd: None | str
        remaining_usd = self.remaining_usd

        resets_at = self.resets_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "limit_usd": limit_usd,
                "spent_usd": spent_usd,
                "reserved_usd": reserved_usd,
                "remaining_usd": remaining_usd,
                "resets_at": resets_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_limit_usd(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        limit_usd = _parse_limit_usd(d.pop("limit_usd"))

        spent_usd = d.pop("spent_usd")

        reserved_usd = d.pop("reserved_usd")

        def _parse_remaining_usd(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        remaining_usd = _parse_remaining_usd(d.pop("remaining_usd"))

        resets_at = datetime.datetime.fromisoformat(d.pop("resets_at"))

        period_budget = cls(
            limit_usd=limit_usd,
            spent_usd=spent_usd,
            reserved_usd=reserved_usd,
            remaining_usd=remaining_usd,
            resets_at=resets_at,
        )

        period_budget.additional_properties = d
        return period_budget

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

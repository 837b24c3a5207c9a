from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.usage_period import UsagePeriod


T = TypeVar("T", bound="Usage")


@_attrs_define
class Usage:
    """
    Attributes:
        user (str):
        timezone (str): Periods are UTC.
        today (UsagePeriod):
        month (UsagePeriod):
    """

    user: str
    timezone: str
    today: UsagePeriod
    month: UsagePeriod
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        user = self.user

        timezone = self.timezone

        today = self.today.to_dict()

        month = self.month.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "user": user,
                "timezone": timezone,
                "today": today,
                "month": month,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.usage_period import UsagePeriod  # noqa: PLC0415

        d = dict(src_dict)
        user = d.pop("user")

        timezone = d.pop("timezone")

        today = UsagePeriod.from_dict(d.pop("today"))

        month = UsagePeriod.from_dict(d.pop("month"))

        usage = cls(
            user=user,
            timezone=timezone,
            today=today,
            month=month,
        )

        usage.additional_properties = d
        return usage

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

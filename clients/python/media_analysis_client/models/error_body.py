from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.error_body_details import ErrorBodyDetails


T = TypeVar("T", bound="ErrorBody")


@_attrs_define
class ErrorBody:
    """
    Attributes:
        code (str): Stable, machine-readable.
        message (str): For people.
        field (str | Unset): The input at fault, when there is one.
        details (ErrorBodyDetails | Unset): Per-field messages of a validation error.
        retry_after (int | Unset): Seconds, as in Retry-After.
        limit (str | Unset): budget_exceeded: daily, monthly, request or unpriced.
        limit_usd (str | Unset): budget_exceeded: the limit.
        used_usd (str | Unset): budget_exceeded: spent and held by running analyses.
        resets_at (datetime.datetime | None | Unset): budget_exceeded: when the budget resets (00:00 UTC, the 1st of the
            month).
    """

    code: str
    message: str
    field: str | Unset = UNSET
    details: ErrorBodyDetails | Unset = UNSET
    retry_after: int | Unset = UNSET
    limit: str | Unset = UNSET
    limit_usd: str | Unset = UNSET
    used_usd: str | Unset = UNSET
    resets_at: datetime.datetime | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        code = self.code

        message = self.message

        field = self.field

        details: dict[str, Any] | Unset = UNSET
        if not isinstance(self.details, Unset):
            details = self.details.to_dict()

        retry_after = self.retry_after

        limit = self.limit

        limit_usd = self.limit_usd

        used_usd = self.used_usd

        resets_at: None | str | Unset
        if isinstance(self.resets_at, Unset):
            resets_at = UNSET
        elif isinstance(self.resets_at, datetime.datetime):
            resets_at = self.resets_at.isoformat()
        else:
            resets_at = self.resets_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
                "message": message,
            }
        )
        if field is not UNSET:
            field_dict["field"] = field
        if details is not UNSET:
            field_dict["details"] = details
        if retry_after is not UNSET:
            field_dict["retry_after"] = retry_after
        if limit is not UNSET:
            field_dict["limit"] = limit
        if limit_usd is not UNSET:
            field_dict["limit_usd"] = limit_usd
        if used_usd is not UNSET:
            field_dict["used_usd"] = used_usd
        if resets_at is not UNSET:
            field_dict["resets_at"] = resets_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.error_body_details import ErrorBodyDetails  # noqa: PLC0415

        d = dict(src_dict)
        code = d.pop("code")

        message = d.pop("message")

        field = d.pop("field", UNSET)

        _details = d.pop("details", UNSET)
        details: ErrorBodyDetails | Unset
        if isinstance(_details, Unset):
            details = UNSET
        else:
            details = ErrorBodyDetails.from_dict(_details)

        retry_after = d.pop("retry_after", UNSET)

        limit = d.pop("limit", UNSET)

        limit_usd = d.pop("limit_usd", UNSET)

        used_usd = d.pop("used_usd", UNSET)

        def _parse_resets_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                resets_at_type_0 = datetime.datetime.fromisoformat(data)

                return resets_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        resets_at = _parse_resets_at(d.pop("resets_at", UNSET))

        error_body = cls(
            code=code,
            message=message,
            field=field,
            details=details,
            retry_after=retry_after,
            limit=limit,
            limit_usd=limit_usd,
            used_usd=used_usd,
            resets_at=resets_at,
        )

        error_body.additional_properties = d
        return error_body

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

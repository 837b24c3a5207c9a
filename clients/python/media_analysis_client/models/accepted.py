from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.links import Links


T = TypeVar("T", bound="Accepted")


@_attrs_define
class Accepted:
    """The answer to a submission or a retry (202).

    Attributes:
        id (UUID):
        correlation_id (None | UUID):
        status (str):
        retry_count (int | None):
        created_at (datetime.datetime):
        links (Links):
        callback_secret (str | Unset): Only in the answer to your first submission with a callback_url: the secret
            (whsec_...) its deliveries are signed with. Shown once; POST /api/webhooks/callback-secret replaces it.
    """

    id: UUID
    correlation_id: None | UUID
    status: str
    retry_count: int | None
    created_at: datetime.datetime
    links: Links
    callback_secret: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        correlation_id: None | str
        if isinstance(self.correlation_id, UUID):
            correlation_id = str(self.correlation_id)
        else:
            correlation_id = self.correlation_id

        status = self.status

        retry_count: int | None
        retry_count = self.retry_count

        created_at = self.created_at.isoformat()

        links = self.links.to_dict()

        callback_secret = self.callback_secret

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "correlation_id": correlation_id,
                "status": status,
                "retry_count": retry_count,
                "created_at": created_at,
                "links": links,
            }
        )
        if callback_secret is not UNSET:
            field_dict["callback_secret"] = callback_secret

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.links import Links  # noqa: PLC0415

        d = dict(src_dict)
        id = UUID(d.pop("id"))

        def _parse_correlation_id(data: object) -> None | UUID:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                correlation_id_type_0 = UUID(data)

                return correlation_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | UUID, data)

        correlation_id = _parse_correlation_id(d.pop("correlation_id"))

        status = d.pop("status")

        def _parse_retry_count(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        retry_count = _parse_retry_count(d.pop("retry_count"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        links = Links.from_dict(d.pop("links"))

        callback_secret = d.pop("callback_secret", UNSET)

        accepted = cls(
            id=id,
            correlation_id=correlation_id,
            status=status,
            retry_count=retry_count,
            created_at=created_at,
            links=links,
            callback_secret=callback_secret,
        )

        accepted.additional_properties = d
        return accepted

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

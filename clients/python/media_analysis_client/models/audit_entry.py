from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.action_enum import ActionEnum

T = TypeVar("T", bound="AuditEntry")


@_attrs_define
class AuditEntry:
    """One ``audit_log`` row, as ``AuditLogEntry.as_dict()`` gives it.

    Attributes:
        id (UUID):
        table_name (str):
        record_id (UUID):
        action (ActionEnum): * `INSERT` - INSERT
            * `UPDATE` - UPDATE
            * `DELETE` - DELETE
        old_values (Any):
        new_values (Any):
        performed_by (None | str):
        ip_address (None | str):
        created_at (datetime.datetime | None):
        correlation_id (None | UUID):
    """

    id: UUID
    table_name: str
    record_id: UUID
    action: ActionEnum
    old_values: Any
    new_values: Any
    performed_by: None | str
    ip_address: None | str
    created_at: datetime.datetime | None
    correlation_id: None | UUID
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        table_name = self.table_name

        record_id = str(self.record_id)

        action = self.action.value

        old_values = self.old_values

        new_values = self.new_values

        performed_by: None | str
        performed_by = self.performed_by

        ip_address: None | str
        ip_address = self.ip_address

        created_at: None | str
        if isinstance(self.created_at, datetime.datetime):
            created_at = self.created_at.isoformat()
        else:
            created_at = self.created_at

        correlation_id: None | str
        if isinstance(self.correlation_id, UUID):
            correlation_id = str(self.correlation_id)
        else:
            correlation_id = self.correlation_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "table_name": table_name,
                "record_id": record_id,
                "action": action,
                "old_values": old_values,
                "new_values": new_values,
                "performed_by": performed_by,
                "ip_address": ip_address,
                "created_at": created_at,
                "correlation_id": correlation_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = UUID(d.pop("id"))

        table_name = d.pop("table_name")

        record_id = UUID(d.pop("record_id"))

        action = ActionEnum(d.pop("action"))

        old_values = d.pop("old_values")

        new_values = d.pop("new_values")

        def _parse_performed_by(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        performed_by = _parse_performed_by(d.pop("performed_by"))

        def _parse_ip_address(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        ip_address = _parse_ip_address(d.pop("ip_address"))

        def _parse_created_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                created_at_type_0 = datetime.datetime.fromisoformat(data)

                return created_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        created_at = _parse_created_at(d.pop("created_at"))

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

        audit_entry = cls(
            id=id,
            table_name=table_name,
            record_id=record_id,
            action=action,
            old_values=old_values,
            new_values=new_values,
            performed_by=performed_by,
            ip_address=ip_address,
            created_at=created_at,
            correlation_id=correlation_id,
        )

        audit_entry.additional_properties = d
        return audit_entry

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

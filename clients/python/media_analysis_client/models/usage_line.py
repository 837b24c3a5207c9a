from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="UsageLine")


@_attrs_define
class UsageLine:
    """
    Attributes:
        provider (None | str):
        model (str):
        results (int):
        cost_usd (str):
        unpriced_results (int): Results of unknown cost (counted 0).
        input_tokens (int):
        output_tokens (int):
    """

    provider: None | str
    model: str
    results: int
    cost_usd: str
    unpriced_results: int
    input_tokens: int
    output_tokens: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        provider: None | str
        provider = self.provider

        model = self.model

        results = self.results

        cost_usd = self.cost_usd

        unpriced_results = self.unpriced_results

        input_tokens = self.input_tokens

        output_tokens = self.output_tokens

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "provider": provider,
                "model": model,
                "results": results,
                "cost_usd": cost_usd,
                "unpriced_results": unpriced_results,
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_provider(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        provider = _parse_provider(d.pop("provider"))

        model = d.pop("model")

        results = d.pop("results")

        cost_usd = d.pop("cost_usd")

        unpriced_results = d.pop("unpriced_results")

        input_tokens = d.pop("input_tokens")

        output_tokens = d.pop("output_tokens")

        usage_line = cls(
            provider=provider,
            model=model,
            results=results,
            cost_usd=cost_usd,
            unpriced_results=unpriced_results,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )

        usage_line.additional_properties = d
        return usage_line

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

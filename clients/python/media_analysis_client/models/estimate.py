from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.budget import Budget
    from ..models.estimate_basis import EstimateBasis


T = TypeVar("T", bound="Estimate")


@_attrs_define
class Estimate:
    """
    Attributes:
        provider (str):
        model (str):
        media_type (str): As known before processing.
        input_tokens (int):
        output_tokens (int):
        cost_usd (None | str): Null when the model has no price in the price table.
        assumptions (list[str]):
        basis (EstimateBasis): What was known: the media's size and type, prices.
        within_budget (bool | None): The estimate fits what is left today and this month.
        budget (Budget):
    """

    provider: str
    model: str
    media_type: str
    input_tokens: int
    output_tokens: int
    cost_usd: None | str
    assumptions: list[str]
    basis: EstimateBasis
    within_budget: bool | None
    budget: Budget
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        provider = self.provider

        model = self.model

        media_type = self.media_type

        input_tokens = self.input_tokens

        output_tokens = self.output_tokens

        cost_usd: None | str
        cost_usd = self.cost_usd

        assumptions = self.assumptions

        basis = self.basis.to_dict()

        within_budget: bool | None
        within_budget = self.within_budget

        budget = self.budget.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "provider": provider,
                "model": model,
                "media_type": media_type,
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "cost_usd": cost_usd,
                "assumptions": assumptions,
                "basis": basis,
                "within_budget": within_budget,
                "budget": budget,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.budget import Budget  # noqa: PLC0415
        from ..models.estimate_basis import EstimateBasis  # noqa: PLC0415

        d = dict(src_dict)
        provider = d.pop("provider")

        model = d.pop("model")

        media_type = d.pop("media_type")

        input_tokens = d.pop("input_tokens")

        output_tokens = d.pop("output_tokens")

        def _parse_cost_usd(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        cost_usd = _parse_cost_usd(d.pop("cost_usd"))

        assumptions = cast(list[str], d.pop("assumptions"))

        basis = EstimateBasis.from_dict(d.pop("basis"))

        def _parse_within_budget(data: object) -> bool | None:
            if data is None:
                return data
            return cast(bool | None, data)

        within_budget = _parse_within_budget(d.pop("within_budget"))

        budget = Budget.from_dict(d.pop("budget"))

        estimate = cls(
            provider=provider,
            model=model,
            media_type=media_type,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost_usd,
            assumptions=assumptions,
            basis=basis,
            within_budget=within_budget,
            budget=budget,
        )

        estimate.additional_properties = d
        return estimate

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

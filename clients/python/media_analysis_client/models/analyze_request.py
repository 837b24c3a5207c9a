from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.blank_enum import BlankEnum
from ..models.media_type_enum import MediaTypeEnum
from ..models.provider_enum import ProviderEnum
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.options_request import OptionsRequest


T = TypeVar("T", bound="AnalyzeRequest")


@_attrs_define
class AnalyzeRequest:
    """A JSON submission: media by URL.

    Attributes:
        media_url (str): http(s) URL of the media; public addresses only.
        prompt (str): What to ask about the media. Required, not blank, at most MEDIA_ANALYSIS_MAX_PROMPT_CHARS
            characters (10000 by default).
        provider (BlankEnum | None | ProviderEnum | Unset): A configured provider (builtin, openrouter, novita, openai,
            gemini); the default one when omitted.
        model (None | str | Unset):
        media_type (MediaTypeEnum | Unset): * `video` - Video
            * `audio` - Audio
            * `document` - Document
            * `image` - Image
            * `unknown` - Unknown
        options (None | OptionsRequest | Unset):
        callback_url (None | str | Unset): http(s) URL told when the request completes, fails or is cancelled: a signed
            POST (Standard Webhooks) of its status JSON. Public addresses only (the media URL rule).
    """

    media_url: str
    prompt: str
    provider: BlankEnum | None | ProviderEnum | Unset = UNSET
    model: None | str | Unset = UNSET
    media_type: MediaTypeEnum | Unset = UNSET
    options: None | OptionsRequest | Unset = UNSET
    callback_url: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.options_request import OptionsRequest  # noqa: PLC0415

        media_url = self.media_url

        prompt = self.prompt

        provider: None | str | Unset
        if isinstance(self.provider, Unset):
            provider = UNSET
        elif isinstance(self.provider, ProviderEnum):
            provider = self.provider.value
        elif isinstance(self.provider, BlankEnum):
            provider = self.provider.value
        else:
            provider = self.provider

        model: None | str | Unset
        if isinstance(self.model, Unset):
            model = UNSET
        else:
            model = self.model

        media_type: str | Unset = UNSET
        if not isinstance(self.media_type, Unset):
            media_type = self.media_type.value

        options: dict[str, Any] | None | Unset
        if isinstance(self.options, Unset):
            options = UNSET
        elif isinstance(self.options, OptionsRequest):
            options = self.options.to_dict()
        else:
            options = self.options

        callback_url: None | str | Unset
        if isinstance(self.callback_url, Unset):
            callback_url = UNSET
        else:
            callback_url = self.callback_url

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "media_url": media_url,
                "prompt": prompt,
            }
        )
        if provider is not UNSET:
            field_dict["provider"] = provider
        if model is not UNSET:
            field_dict["model"] = model
        if media_type is not UNSET:
            field_dict["media_type"] = media_type
        if options is not UNSET:
            field_dict["options"] = options
        if callback_url is not UNSET:
            field_dict["callback_url"] = callback_url

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.options_request import OptionsRequest  # noqa: PLC0415

        d = dict(src_dict)
        media_url = d.pop("media_url")

        prompt = d.pop("prompt")

        def _parse_provider(data: object) -> BlankEnum | None | ProviderEnum | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                provider_type_0 = ProviderEnum(data)

                return provider_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, str):
                    raise TypeError()
                provider_type_1 = BlankEnum(data)

                return provider_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(BlankEnum | None | ProviderEnum | Unset, data)

        provider = _parse_provider(d.pop("provider", UNSET))

        def _parse_model(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        model = _parse_model(d.pop("model", UNSET))

        _media_type = d.pop("media_type", UNSET)
        media_type: MediaTypeEnum | Unset
        if isinstance(_media_type, Unset):
            media_type = UNSET
        else:
            media_type = MediaTypeEnum(_media_type)

        def _parse_options(data: object) -> None | OptionsRequest | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                options_type_1 = OptionsRequest.from_dict(data)

                return options_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | OptionsRequest | Unset, data)

        options = _parse_options(d.pop("options", UNSET))

        def _parse_callback_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        callback_url = _parse_callback_url(d.pop("callback_url", UNSET))

        analyze_request = cls(
            media_url=media_url,
            prompt=prompt,
            provider=provider,
            model=model,
            media_type=media_type,
            options=options,
            callback_url=callback_url,
        )

        analyze_request.additional_properties = d
        return analyze_request

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

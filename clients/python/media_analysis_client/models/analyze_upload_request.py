from __future__ import annotations

import json
from collections.abc import Mapping
from io import BytesIO
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from .. import types
from ..models.blank_enum import BlankEnum
from ..models.media_type_enum import MediaTypeEnum
from ..models.provider_enum import ProviderEnum
from ..types import UNSET, File, Unset

if TYPE_CHECKING:
    from ..models.options_request import OptionsRequest


T = TypeVar("T", bound="AnalyzeUploadRequest")


@_attrs_define
class AnalyzeUploadRequest:
    """A multipart submission: the media as ``file``; ``options`` as a JSON text.

    Attributes:
        file (File):
        prompt (str): What to ask about the media. Required, not blank, at most MEDIA_ANALYSIS_MAX_PROMPT_CHARS
            characters (10000 by default).
        provider (BlankEnum | ProviderEnum | Unset): A configured provider (builtin, openrouter, novita, openai,
            gemini); the default one when omitted.
        model (str | Unset):
        media_type (MediaTypeEnum | str | Unset):
        callback_url (str | Unset): http(s) URL told when the request completes, fails or is cancelled: a signed POST
            (Standard Webhooks) of its status JSON. Public addresses only (the media URL rule).
        options (OptionsRequest | str | Unset): A JSON object, e.g. {"grid": "3x3"}.
    """

    file: File
    prompt: str
    provider: BlankEnum | ProviderEnum | Unset = UNSET
    model: str | Unset = UNSET
    media_type: MediaTypeEnum | str | Unset = UNSET
    callback_url: str | Unset = UNSET
    options: OptionsRequest | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.options_request import OptionsRequest  # noqa: PLC0415

        file = self.file.to_tuple()

        prompt = self.prompt

        provider: str | Unset
        if isinstance(self.provider, Unset):
            provider = UNSET
        elif isinstance(self.provider, ProviderEnum):
            provider = self.provider.value
        else:
            provider = self.provider.value

        model: str | Unset
        if isinstance(self.model, Unset):
            model = UNSET
        else:
            model = self.model

        media_type: str | Unset
        if isinstance(self.media_type, Unset):
            media_type = UNSET
        elif isinstance(self.media_type, MediaTypeEnum):
            media_type = self.media_type.value
        else:
            media_type = self.media_type

        callback_url: str | Unset
        if isinstance(self.callback_url, Unset):
            callback_url = UNSET
        else:
            callback_url = self.callback_url

        options: dict[str, Any] | str | Unset
        if isinstance(self.options, Unset):
            options = UNSET
        elif isinstance(self.options, OptionsRequest):
            options = self.options.to_dict()
        else:
            options = self.options

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "file": file,
                "prompt": prompt,
            }
        )
        if provider is not UNSET:
            field_dict["provider"] = provider
        if model is not UNSET:
            field_dict["model"] = model
        if media_type is not UNSET:
            field_dict["media_type"] = media_type
        if callback_url is not UNSET:
            field_dict["callback_url"] = callback_url
        if options is not UNSET:
            field_dict["options"] = options

        return field_dict

    def to_multipart(self) -> types.RequestFiles:
        from ..models.options_request import OptionsRequest  # noqa: PLC0415

        files: types.RequestFiles = []

        files.append(("file", self.file.to_tuple()))

        files.append(("prompt", (None, str(self.prompt).encode(), "text/plain")))

        if not isinstance(self.provider, Unset):
            if isinstance(self.provider, ProviderEnum):
                files.append(("provider", (None, str(self.provider.value).encode(), "text/plain")))
            else:
                files.append(("provider", (None, str(self.provider.value).encode(), "text/plain")))

        if not isinstance(self.model, Unset):
            if isinstance(self.model, str):
                files.append(("model", (None, str(self.model).encode(), "text/plain")))

        if not isinstance(self.media_type, Unset):
            if isinstance(self.media_type, MediaTypeEnum):
                files.append(("media_type", (None, str(self.media_type.value).encode(), "text/plain")))
            else:
                files.append(("media_type", (None, str(self.media_type).encode(), "text/plain")))

        if not isinstance(self.callback_url, Unset):
            if isinstance(self.callback_url, str):
                files.append(("callback_url", (None, str(self.callback_url).encode(), "text/plain")))

        if not isinstance(self.options, Unset):
            if isinstance(self.options, OptionsRequest):
                files.append(("options", (None, json.dumps(self.options.to_dict()).encode(), "application/json")))
            else:
                files.append(("options", (None, str(self.options).encode(), "text/plain")))

        for prop_name, prop in self.additional_properties.items():
            files.append((prop_name, (None, str(prop).encode(), "text/plain")))

        return files

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.options_request import OptionsRequest  # noqa: PLC0415

        d = dict(src_dict)
        file = File(payload=BytesIO(d.pop("file")))

        prompt = d.pop("prompt")

        def _parse_provider(data: object) -> BlankEnum | ProviderEnum | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                provider_type_0 = ProviderEnum(data)

                return provider_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, str):
                raise TypeError()
            provider_type_1 = BlankEnum(data)

            return provider_type_1

        provider = _parse_provider(d.pop("provider", UNSET))

        def _parse_model(data: object) -> str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(str | Unset, data)

        model = _parse_model(d.pop("model", UNSET))

        def _parse_media_type(data: object) -> MediaTypeEnum | str | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                media_type_type_0 = MediaTypeEnum(data)

                return media_type_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(MediaTypeEnum | str | Unset, data)

        media_type = _parse_media_type(d.pop("media_type", UNSET))

        def _parse_callback_url(data: object) -> str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(str | Unset, data)

        callback_url = _parse_callback_url(d.pop("callback_url", UNSET))

        def _parse_options(data: object) -> OptionsRequest | str | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                options_type_0 = OptionsRequest.from_dict(data)

                return options_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(OptionsRequest | str | Unset, data)

        options = _parse_options(d.pop("options", UNSET))

        analyze_upload_request = cls(
            file=file,
            prompt=prompt,
            provider=provider,
            model=model,
            media_type=media_type,
            callback_url=callback_url,
            options=options,
        )

        analyze_upload_request.additional_properties = d
        return analyze_upload_request

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

import datetime
from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.media_history_list_media_type import MediaHistoryListMediaType
from ...models.media_history_list_ordering_item import MediaHistoryListOrderingItem
from ...models.media_history_list_status_item import MediaHistoryListStatusItem
from ...models.paginated_history_item_list import PaginatedHistoryItemList
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    created_after: datetime.datetime | Unset = UNSET,
    created_before: datetime.datetime | Unset = UNSET,
    media_type: MediaHistoryListMediaType | Unset = UNSET,
    model_used: str | Unset = UNSET,
    ordering: list[MediaHistoryListOrderingItem] | Unset = UNSET,
    page: int | Unset = UNSET,
    page_size: int | Unset = UNSET,
    provider: str | Unset = UNSET,
    q: str | Unset = UNSET,
    search: str | Unset = UNSET,
    status: list[MediaHistoryListStatusItem] | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_created_after: str | Unset = UNSET
    if not isinstance(created_after, Unset):
        json_created_after = created_after.isoformat()
    params["created_after"] = json_created_after

    json_created_before: str | Unset = UNSET
    if not isinstance(created_before, Unset):
        json_created_before = created_before.isoformat()
    params["created_before"] = json_created_before

    json_media_type: str | Unset = UNSET
    if not isinstance(media_type, Unset):
        json_media_type = media_type.value

    params["media_type"] = json_media_type

    params["model_used"] = model_used

    json_ordering: list[str] | Unset = UNSET
    if not isinstance(ordering, Unset):
        json_ordering = []
        for ordering_item_data in ordering:
            ordering_item = ordering_item_data.value
            json_ordering.append(ordering_item)

    params["ordering"] = json_ordering

    params["page"] = page

    params["page_size"] = page_size

    params["provider"] = provider

    params["q"] = q

    params["search"] = search

    json_status: list[str] | Unset = UNSET
    if not isinstance(status, Unset):
        json_status = []
        for status_item_data in status:
            status_item = status_item_data.value
            json_status.append(status_item)

    params["status"] = json_status

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/media/history",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | PaginatedHistoryItemList | None:
    if response.status_code == 200:
        response_200 = PaginatedHistoryItemList.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Error.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Error.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = Error.from_dict(response.json())

        return response_404

    if response.status_code == 406:
        response_406 = Error.from_dict(response.json())

        return response_406

    if response.status_code == 429:
        response_429 = Error.from_dict(response.json())

        return response_429

    if response.status_code == 503:
        response_503 = Error.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | PaginatedHistoryItemList]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    created_after: datetime.datetime | Unset = UNSET,
    created_before: datetime.datetime | Unset = UNSET,
    media_type: MediaHistoryListMediaType | Unset = UNSET,
    model_used: str | Unset = UNSET,
    ordering: list[MediaHistoryListOrderingItem] | Unset = UNSET,
    page: int | Unset = UNSET,
    page_size: int | Unset = UNSET,
    provider: str | Unset = UNSET,
    q: str | Unset = UNSET,
    search: str | Unset = UNSET,
    status: list[MediaHistoryListStatusItem] | Unset = UNSET,
) -> Response[Error | PaginatedHistoryItemList]:
    """Your requests, newest first, filtered and paginated

     One viewset, mapped path by path in ``urls.py`` (the plan's paths are not
    router-shaped); ``analyze`` also parses multipart and ``contact_sheet`` also
    renders JPEG (set there through ``as_view`` arguments).

    Args:
        created_after (datetime.datetime | Unset):
        created_before (datetime.datetime | Unset):
        media_type (MediaHistoryListMediaType | Unset):
        model_used (str | Unset):
        ordering (list[MediaHistoryListOrderingItem] | Unset):
        page (int | Unset):
        page_size (int | Unset):
        provider (str | Unset):
        q (str | Unset):
        search (str | Unset):
        status (list[MediaHistoryListStatusItem] | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | PaginatedHistoryItemList]
    """

    kwargs = _get_kwargs(
        created_after=created_after,
        created_before=created_before,
        media_type=media_type,
        model_used=model_used,
        ordering=ordering,
        page=page,
        page_size=page_size,
        provider=provider,
        q=q,
        search=search,
        status=status,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    created_after: datetime.datetime | Unset = UNSET,
    created_before: datetime.datetime | Unset = UNSET,
    media_type: MediaHistoryListMediaType | Unset = UNSET,
    model_used: str | Unset = UNSET,
    ordering: list[MediaHistoryListOrderingItem] | Unset = UNSET,
    page: int | Unset = UNSET,
    page_size: int | Unset = UNSET,
    provider: str | Unset = UNSET,
    q: str | Unset = UNSET,
    search: str | Unset = UNSET,
    status: list[MediaHistoryListStatusItem] | Unset = UNSET,
) -> Error | PaginatedHistoryItemList | None:
    """Your requests, newest first, filtered and paginated

     One viewset, mapped path by path in ``urls.py`` (the plan's paths are not
    router-shaped); ``analyze`` also parses multipart and ``contact_sheet`` also
    renders JPEG (set there through ``as_view`` arguments).

    Args:
        created_after (datetime.datetime | Unset):
        created_before (datetime.datetime | Unset):
        media_type (MediaHistoryListMediaType | Unset):
        model_used (str | Unset):
        ordering (list[MediaHistoryListOrderingItem] | Unset):
        page (int | Unset):
        page_size (int | Unset):
        provider (str | Unset):
        q (str | Unset):
        search (str | Unset):
        status (list[MediaHistoryListStatusItem] | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | PaginatedHistoryItemList
    """

    return sync_detailed(
        client=client,
        created_after=created_after,
        created_before=created_before,
        media_type=media_type,
        model_used=model_used,
        ordering=ordering,
        page=page,
        page_size=page_size,
        provider=provider,
        q=q,
        search=search,
        status=status,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    created_after: datetime.datetime | Unset = UNSET,
    created_before: datetime.datetime | Unset = UNSET,
    media_type: MediaHistoryListMediaType | Unset = UNSET,
    model_used: str | Unset = UNSET,
    ordering: list[MediaHistoryListOrderingItem] | Unset = UNSET,
    page: int | Unset = UNSET,
    page_size: int | Unset = UNSET,
    provider: str | Unset = UNSET,
    q: str | Unset = UNSET,
    search: str | Unset = UNSET,
    status: list[MediaHistoryListStatusItem] | Unset = UNSET,
) -> Response[Error | PaginatedHistoryItemList]:
    """Your requests, newest first, filtered and paginated

     One viewset, mapped path by path in ``urls.py`` (the plan's paths are not
    router-shaped); ``analyze`` also parses multipart and ``contact_sheet`` also
    renders JPEG (set there through ``as_view`` arguments).

    Args:
        created_after (datetime.datetime | Unset):
        created_before (datetime.datetime | Unset):
        media_type (MediaHistoryListMediaType | Unset):
        model_used (str | Unset):
        ordering (list[MediaHistoryListOrderingItem] | Unset):
        page (int | Unset):
        page_size (int | Unset):
        provider (str | Unset):
        q (str | Unset):
        search (str | Unset):
        status (list[MediaHistoryListStatusItem] | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | PaginatedHistoryItemList]
    """

    kwargs = _get_kwargs(
        created_after=created_after,
        created_before=created_before,
        media_type=media_type,
        model_used=model_used,
        ordering=ordering,
        page=page,
        page_size=page_size,
        provider=provider,
        q=q,
        search=search,
        status=status,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    created_after: datetime.datetime | Unset = UNSET,
    created_before: datetime.datetime | Unset = UNSET,
    media_type: MediaHistoryListMediaType | Unset = UNSET,
    model_used: str | Unset = UNSET,
    ordering: list[MediaHistoryListOrderingItem] | Unset = UNSET,
    page: int | Unset = UNSET,
    page_size: int | Unset = UNSET,
    provider: str | Unset = UNSET,
    q: str | Unset = UNSET,
    search: str | Unset = UNSET,
    status: list[MediaHistoryListStatusItem] | Unset = UNSET,
) -> Error | PaginatedHistoryItemList | None:
    """Your requests, newest first, filtered and paginated

     One viewset, mapped path by path in ``urls.py`` (the plan's paths are not
    router-shaped); ``analyze`` also parses multipart and ``contact_sheet`` also
    renders JPEG (set there through ``as_view`` arguments).

    Args:
        created_after (datetime.datetime | Unset):
        created_before (datetime.datetime | Unset):
        media_type (MediaHistoryListMediaType | Unset):
        model_used (str | Unset):
        ordering (list[MediaHistoryListOrderingItem] | Unset):
        page (int | Unset):
        page_size (int | Unset):
        provider (str | Unset):
        q (str | Unset):
        search (str | Unset):
        status (list[MediaHistoryListStatusItem] | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | PaginatedHistoryItemList
    """

    return (
        await asyncio_detailed(
            client=client,
            created_after=created_after,
            created_before=created_before,
            media_type=media_type,
            model_used=model_used,
            ordering=ordering,
            page=page,
            page_size=page_size,
            provider=provider,
            q=q,
            search=search,
            status=status,
        )
    ).parsed

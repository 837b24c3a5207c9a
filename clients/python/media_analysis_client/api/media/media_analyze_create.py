from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.accepted import Accepted
from ...models.analyze_request import AnalyzeRequest
from ...models.analyze_upload_request import AnalyzeUploadRequest
from ...models.error import Error
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: AnalyzeRequest | AnalyzeUploadRequest | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/media/analyze",
    }

    if isinstance(body, AnalyzeRequest):
        _kwargs["json"] = body.to_dict()

        headers["Content-Type"] = "application/json"
    if isinstance(body, AnalyzeUploadRequest):
        _kwargs["files"] = body.to_multipart()

        headers["Content-Type"] = "multipart/form-data; boundary=+++"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Accepted | Error | None:
    if response.status_code == 202:
        response_202 = Accepted.from_dict(response.json())

        return response_202

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

    if response.status_code == 413:
        response_413 = Error.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = Error.from_dict(response.json())

        return response_415

    if response.status_code == 422:
        response_422 = Error.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = Error.from_dict(response.json())

        return response_429

    if response.status_code == 503:
        response_503 = Error.from_dict(response.json())

        return response_503

    if response.status_code == 507:
        response_507 = Error.from_dict(response.json())

        return response_507

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Accepted | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: AnalyzeRequest | AnalyzeUploadRequest | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Response[Accepted | Error]:
    """Submit media for analysis (by URL, or upload as multipart 'file')

     One viewset, mapped path by path in ``urls.py`` (the plan's paths are not
    router-shaped); ``analyze`` also parses multipart and ``contact_sheet`` also
    renders JPEG (set there through ``as_view`` arguments).

    Args:
        idempotency_key (str | Unset):
        body (AnalyzeRequest): A JSON submission: media by URL.
        body (AnalyzeUploadRequest): A multipart submission: the media as ``file``; ``options`` as
            a JSON text.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Accepted | Error]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: AnalyzeRequest | AnalyzeUploadRequest | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Accepted | Error | None:
    """Submit media for analysis (by URL, or upload as multipart 'file')

     One viewset, mapped path by path in ``urls.py`` (the plan's paths are not
    router-shaped); ``analyze`` also parses multipart and ``contact_sheet`` also
    renders JPEG (set there through ``as_view`` arguments).

    Args:
        idempotency_key (str | Unset):
        body (AnalyzeRequest): A JSON submission: media by URL.
        body (AnalyzeUploadRequest): A multipart submission: the media as ``file``; ``options`` as
            a JSON text.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Accepted | Error
    """

    return sync_detailed(
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: AnalyzeRequest | AnalyzeUploadRequest | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Response[Accepted | Error]:
    """Submit media for analysis (by URL, or upload as multipart 'file')

     One viewset, mapped path by path in ``urls.py`` (the plan's paths are not
    router-shaped); ``analyze`` also parses multipart and ``contact_sheet`` also
    renders JPEG (set there through ``as_view`` arguments).

    Args:
        idempotency_key (str | Unset):
        body (AnalyzeRequest): A JSON submission: media by URL.
        body (AnalyzeUploadRequest): A multipart submission: the media as ``file``; ``options`` as
            a JSON text.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Accepted | Error]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: AnalyzeRequest | AnalyzeUploadRequest | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Accepted | Error | None:
    """Submit media for analysis (by URL, or upload as multipart 'file')

     One viewset, mapped path by path in ``urls.py`` (the plan's paths are not
    router-shaped); ``analyze`` also parses multipart and ``contact_sheet`` also
    renders JPEG (set there through ``as_view`` arguments).

    Args:
        idempotency_key (str | Unset):
        body (AnalyzeRequest): A JSON submission: media by URL.
        body (AnalyzeUploadRequest): A multipart submission: the media as ``file``; ``options`` as
            a JSON text.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Accepted | Error
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed

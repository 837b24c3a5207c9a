from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.analyze_request import AnalyzeRequest
from ...models.analyze_upload_request import AnalyzeUploadRequest
from ...models.error import Error
from ...models.estimate import Estimate
from ...types import UNSET, Response


def _get_kwargs(
    *,
    body: AnalyzeRequest | AnalyzeUploadRequest | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/media/estimate",
    }

    if isinstance(body, AnalyzeRequest):
        _kwargs["json"] = body.to_dict()

        headers["Content-Type"] = "application/json"
    if isinstance(body, AnalyzeUploadRequest):
        _kwargs["files"] = body.to_multipart()

        headers["Content-Type"] = "multipart/form-data; boundary=+++"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Error | Estimate | None:
    if response.status_code == 200:
        response_200 = Estimate.from_dict(response.json())

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Error | Estimate]:
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
) -> Response[Error | Estimate]:
    """What an analysis would cost, without submitting it (the analyze body)

    Args:
        body (AnalyzeRequest): A JSON submission: media by URL.
        body (AnalyzeUploadRequest): A multipart submission: the media as ``file``; ``options`` as
            a JSON text.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Estimate]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: AnalyzeRequest | AnalyzeUploadRequest | Unset = UNSET,
) -> Error | Estimate | None:
    """What an analysis would cost, without submitting it (the analyze body)

    Args:
        body (AnalyzeRequest): A JSON submission: media by URL.
        body (AnalyzeUploadRequest): A multipart submission: the media as ``file``; ``options`` as
            a JSON text.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Estimate
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: AnalyzeRequest | AnalyzeUploadRequest | Unset = UNSET,
) -> Response[Error | Estimate]:
    """What an analysis would cost, without submitting it (the analyze body)

    Args:
        body (AnalyzeRequest): A JSON submission: media by URL.
        body (AnalyzeUploadRequest): A multipart submission: the media as ``file``; ``options`` as
            a JSON text.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Estimate]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: AnalyzeRequest | AnalyzeUploadRequest | Unset = UNSET,
) -> Error | Estimate | None:
    """What an analysis would cost, without submitting it (the analyze body)

    Args:
        body (AnalyzeRequest): A JSON submission: media by URL.
        body (AnalyzeUploadRequest): A multipart submission: the media as ``file``; ``options`` as
            a JSON text.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Estimate
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed

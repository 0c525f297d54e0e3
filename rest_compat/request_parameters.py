"""The parameters of a read request: query string and JSON body, the body winning."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from aiohttp import web

from domain.parameters import ParameterError, describe_value, display_name, not_given
from rest_compat.app_keys import SETTINGS
from rest_compat.errors import ApiError
from rest_compat.json_body import read_json_object

T = TypeVar("T")


async def read_parameters(request: web.Request) -> dict[str, object]:
    body = await read_json_object(request, max_bytes=request.app[SETTINGS].max_body_bytes)
    return checked(lambda: merge_parameters(request.query, body))


def merge_parameters(query: Mapping[str, str], body: Mapping[str, object]) -> dict[str, object]:
    """Query-string and body parameters combined; the body wins per key.

    A body value that counts as not given (``""`` or ``null``) does not hide a query-string
    value: clients that send every field in the body, unused ones as ``""``, still get the
    filter they put in the query string. A name repeated in the query string with different
    values (``?source=a&source=b``, seen through a multi-dict's ``items()``) is a
    ``ParameterError`` rather than a silent pick of one.
    """
    merged: dict[str, object] = {}
    for name, value in query.items():
        if name in merged and merged[name] != value:
            raise ParameterError(
                display_name(name),
                f"given more than once in the query string with different values "
                f"({describe_value(merged[name])} and {describe_value(value)})",
            )
        merged[name] = value
    for name, body_value in body.items():
        if name in merged and not_given(body_value):
            continue
        merged[name] = body_value
    return merged


def checked(parse: Callable[[], T]) -> T:
    """``parse()``, with a ``ParameterError`` turned into the 400 the client gets."""
    try:
        return parse()
    except ParameterError as err:
        raise ApiError(400, str(err)) from None


async def checked_async(use_case: Awaitable[T]) -> T:
    """``await use_case``, with a ``ParameterError`` turned into the 400 the client gets."""
    try:
        return await use_case
    except ParameterError as err:
        raise ApiError(400, str(err)) from None

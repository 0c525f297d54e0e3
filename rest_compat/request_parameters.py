"""The parameters of a read request: query string and JSON body, the body winning."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

from domain.parameters import ParameterError, merge_parameters
from rest_compat.app_keys import SETTINGS
from rest_compat.errors import ApiError
from rest_compat.json_body import read_json_object

T = TypeVar("T")


async def read_parameters(request: web.Request) -> dict[str, object]:
    body = await read_json_object(request, max_bytes=request.app[SETTINGS].max_body_bytes)
    return checked(lambda: merge_parameters(request.query, body))


def checked(parse: Callable[[], T]) -> T:
    """``parse()``, with a ``ParameterError`` turned into the 400 the client gets."""
    try:
        return parse()
    except ParameterError as err:
        raise ApiError(400, str(err)) from None

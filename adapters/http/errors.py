"""The one error type of the edge: a status, a fixed message and the headers to send.

Each face renders it in its own shape: REST as ``{"error": message}``
(``rest_compat/errors.py``), GraphQL as ``{"errors": [{"message": ..., "extensions":
{"code": ...}}]}`` (``graphql_api/view.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

# "Client closed request", as nginx logs it: the client hung up before the answer.
CLIENT_CLOSED_REQUEST = 499


class HttpError(Exception):
    """A refusal with the status and message the client should get. ``code`` names the
    kind of refusal for clients that branch on it (GraphQL's ``extensions.code``)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.code = code

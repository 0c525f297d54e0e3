"""The one error type of the edge: a status, a fixed message and the headers to send.

Each face renders it in its own shape: REST as ``{"error": message}``
(``rest_compat/errors.py``), GraphQL as ``{"errors": [{"message": ..., "extensions":
{"code": ...}}]}`` (``graphql_api/view.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from domain.ports import StoreUnavailableError

# "Client closed request", as nginx logs it: the client hung up before the answer.
CLIENT_CLOSED_REQUEST = 499

# A store outage (docs/deployment.md, "MongoDB"): clients retry after this many seconds.
RETRY_AFTER_SECONDS = 5
STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
STORE_UNAVAILABLE_MESSAGE = (
    f"store unavailable: the database cannot be reached right now; "
    f"retry in {RETRY_AFTER_SECONDS} seconds"
)

logger = logging.getLogger("attributionhub.store")


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


def store_unavailable(error: StoreUnavailableError) -> HttpError:
    """The 503 both faces answer while the store is unavailable; the reason, which may
    name internals, goes to the server log only."""
    logger.warning("store unavailable: %s", error, extra={"event": "store_unavailable"})
    return HttpError(
        503,
        STORE_UNAVAILABLE_MESSAGE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        code=STORE_UNAVAILABLE,
    )

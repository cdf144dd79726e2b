"""HTTP errors as data: a status, a stable code, a message, and the field at fault."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class Problem(Exception):  # noqa: N818 - an answer to send, not an error of ours
    """A request the gateway refuses, answered as JSON (`code` and `message`, as Segment does)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}

    def response(self) -> Response:
        """The JSON response for this problem."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return json_response(body, self.status, self.headers)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response encoded with orjson."""
    return Response(orjson.dumps(body), status, headers, media_type="application/json")

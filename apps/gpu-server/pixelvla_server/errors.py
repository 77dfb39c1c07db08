"""Typed errors: every failure the API reports has a stable code, a message and an HTTP status.

Never answer 200 with an error inside: handlers raise ApiError and the app turns it into a JSON body
{"error": {"code", "message", "detail"}} with the right status.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pixelvla.errors import PixelVLAError
from pydantic import BaseModel


class ErrorBody(BaseModel):
    code: str
    message: str
    detail: Any | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(Exception):
    status: int = 400
    code: str = "bad_request"

    def __init__(
        self, message: str, *, code: str | None = None, status: int | None = None, detail: Any = None
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.detail = detail

    def body(self) -> dict[str, Any]:
        return ErrorResponse(
            error=ErrorBody(code=self.code, message=self.message, detail=self.detail)
        ).model_dump()


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Invalid input"},
    404: {"model": ErrorResponse, "description": "Unknown id"},
    422: {"model": ErrorResponse, "description": "Validation error"},
}


# What Python and numpy raise on hostile values (an int too big for int64 or float, a key of the wrong
# type, nesting too deep) before a validator has put a typed error on them.
DECODE_ERRORS: tuple[type[BaseException], ...] = (OverflowError, ValueError, TypeError, RecursionError)


@contextmanager
def decoding(what: str, code: str, cls: type[ApiError] = ApiError) -> Iterator[None]:
    """Wrap the decoding of client data: an untyped DECODE_ERRORS exception raised inside is the
    client's fault, so it becomes a typed 400 (`code`) instead of a 500. Typed errors pass unchanged.
    Only wrap code that reads the client's payload: the same exception from the server's own state is
    a bug and must stay a 500."""
    try:
        yield
    except (ApiError, PixelVLAError):
        raise
    except DECODE_ERRORS as exc:
        detail = str(exc)[:200] or type(exc).__name__
        raise cls(f"{what} could not be decoded ({type(exc).__name__}: {detail})", code=code) from exc

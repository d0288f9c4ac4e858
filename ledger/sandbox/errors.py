"""Errors raised by the sandbox state; the app turns them into Webex-shaped error responses."""

from __future__ import annotations

from typing import Any

# error codes used by the sandbox (some are real Webex codes, some are plausible stand-ins)
NOT_FOUND = 4008
INVALID = 4003
EXTENSION_IN_USE = 4726
NUMBER_IN_USE = 4727
LOCATION_NOT_CALLING = 4125
CALLING_LICENSE_NEEDS_LOCATION = 400106
CALLING_LINE_ID_NOT_IN_LOCATION = 25374
MOVE_SAME_LOCATION = 25378
MOVE_NOT_CALLING_USER = 1026010
ROW_ERROR = 25008
CONTRACT_INVALID = 25008  # Webex Calling's "Missing Mandatory field name" / invalid field code


class ApiError(Exception):
    """An HTTP error with a Webex error body."""

    def __init__(
        self,
        status: int,
        message: str,
        code: int | None = None,
        description: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.description = description or message
        self.body = body  # when set, sent as-is instead of the standard error body
        self.headers = headers or {}


def not_found(what: str, ident: str | None = None) -> ApiError:
    msg = f"{what} not found" + (f": {ident}" if ident else "")
    return ApiError(404, msg, NOT_FOUND, msg)


def bad_request(message: str, code: int = INVALID) -> ApiError:
    return ApiError(400, message, code, message)

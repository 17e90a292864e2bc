"""One application error type, rendered as one JSON shape `{code, message, field}` by the API.

Specific failures subclass `GridcareError` where they are raised (e.g. `UnableToIssueBill` in
billing), so callers can catch precisely and the API can map every one to a 4xx.
"""

from __future__ import annotations


class GridcareError(Exception):
    """An expected, user-facing failure. `field` names the input at fault, if any."""

    code: str = "error"
    status: int = 400

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "field": self.field}


class ValidationFailed(GridcareError):
    code = "invalid"
    status = 422


class NotFound(GridcareError):
    code = "not_found"
    status = 404


class PermissionDenied(GridcareError):
    code = "forbidden"
    status = 403


class Conflict(GridcareError):
    code = "conflict"
    status = 409

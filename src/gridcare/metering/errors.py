"""Expected failures of the metering app."""

from __future__ import annotations

from gridcare.core.errors import Conflict, NotFound, ValidationFailed


class ReadFileInvalid(ValidationFailed):
    """A read file cannot be imported as a whole. `problems` lists `(line, message)` for every bad
    row found (line 1 is the CSV header; for Parquet, line N is row N); nothing was written."""

    code = "read_file_invalid"

    def __init__(self, message: str, *, problems: list[tuple[int, str]] | None = None, field: str | None = None):
        super().__init__(message, field=field)
        self.problems = problems or []

    def as_dict(self) -> dict:
        return {**super().as_dict(), "problems": [{"line": ln, "message": msg} for ln, msg in self.problems[:200]]}


class UnableToReleaseRead(Conflict):
    code = "unable_to_release_read"


class UnableToRecordEvent(ValidationFailed):
    code = "unable_to_record_event"


class PeriodClosed(Conflict):
    code = "period_closed"


class ReadNotFound(NotFound):
    code = "read_not_found"
